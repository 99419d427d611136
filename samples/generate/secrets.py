#!/usr/bin/env python3
"""Write `samples/secrets/secrets.log`: real Loguru output that leaks planted secrets, and the list of them.

The secrets reach the log the way they do in real services, through real
software: Loguru's `diagnose=True` (its default) prints the value of every
local variable on the line that failed (`password`, `api_key`, `token`, AWS
keys, a database URL, a Slack webhook, a GitLab token, a PEM private key made
by `openssl genpkey`); SQLAlchemy's `IntegrityError` repeats the bound
parameters of the failed statement (a new user's password); the app logs the
request headers of a request PyJWT rejected (`Authorization: Bearer <jwt>`,
the token made by PyJWT).

`samples/secrets/planted.json` lists every planted value with what it is;
tests/test_redaction.py asserts that none of them reaches any output of
logscan, and that each does with `--no-redact`.

Run from the repository root, in a virtualenv with `pip install -e '.[samples]'`
(needs `openssl` on the PATH):

    python samples/generate/secrets.py

The values are fixed (a seeded generator), except the private key, which
openssl makes anew; times are the run's.
"""

from __future__ import annotations

import json
import random
import string
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jwt
import sqlalchemy as sa
from loguru import logger

OUT = Path(__file__).resolve().parents[1] / "secrets"
_RANDOM = random.Random(14)  # fixed: the same values on every run


def _token(alphabet: str, length: int) -> str:
    return "".join(_RANDOM.choice(alphabet) for _ in range(length))


_ALNUM = string.ascii_letters + string.digits
_UPPER = string.ascii_uppercase + string.digits


def _private_key() -> str:
    """A fresh Ed25519 private key in PEM, from openssl (short: three lines)."""
    return subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519"], check=True, capture_output=True,
                          text=True).stdout


#: What the app's configuration holds (as a real service reads it from its environment).
SECRETS: dict[str, str] = {
    "password": "app-secret-pw",
    "api_key": "sk_live_" + _token(_ALNUM, 24),
    "token": "ghp_" + _token(_ALNUM, 36),
    "aws_access_key_id": "AKIA" + _token(_UPPER, 16),
    "aws_secret_access_key": _token(_ALNUM + "/+", 40),
    "database_password": "shop-db-" + _token(_ALNUM, 12),
    "slack_webhook_secret": _token(_ALNUM, 24),
    "slack_token": "xoxb-" + _token(string.digits, 12) + "-" + _token(_ALNUM, 24),
    "gitlab_token": "glpat-" + _token(_ALNUM, 20),
    "signup_password": "signup-" + _token(_ALNUM, 10),
    "jwt_signing_key": _token(_ALNUM, 32),
}
DATABASE_URL = f"postgresql+asyncpg://shop:{SECRETS['database_password']}@db:5432/shop"
SLACK_WEBHOOK = f"https://hooks.slack.com/services/T04ABCDEF/B05GHIJKL/{SECRETS['slack_webhook_secret']}"

#: Where each job is dispatched; the lookups below fail, as in a misconfigured deployment (three different
#: errors, so that logscan reports three incidents, each with its own example).
CHARGERS: dict[str, Callable[..., Any]] = {}
ARCHIVERS = SimpleNamespace()
NOTIFIERS: list[Callable[..., Any]] = []


def charge_order() -> None:
    """A payment call whose gateway is not configured: diagnose shows password, api_key and token."""
    password, api_key, token = SECRETS["password"], SECRETS["api_key"], SECRETS["token"]
    try:
        CHARGERS["eu"](password, api_key, token)
    except KeyError:
        logger.exception("payment gateway call failed")


def archive_invoices() -> None:
    """A nightly copy of invoices from the database to S3: diagnose shows the AWS key pair and the database URL."""
    aws_access_key_id, aws_secret_access_key = SECRETS["aws_access_key_id"], SECRETS["aws_secret_access_key"]
    database_url = DATABASE_URL
    try:
        ARCHIVERS.s3(aws_access_key_id, aws_secret_access_key, database_url)
    except AttributeError:
        logger.exception("invoice archive job failed")


def notify_release(private_key: str) -> None:
    """A release notification: diagnose shows a Slack webhook, a Slack and a GitLab token and a signing key."""
    slack_webhook, slack_token, gitlab_token = SLACK_WEBHOOK, SECRETS["slack_token"], SECRETS["gitlab_token"]
    try:
        NOTIFIERS[0](slack_webhook, slack_token, gitlab_token, private_key)
    except IndexError:
        logger.exception("release notification failed")


def sign_up() -> None:
    """A duplicate sign-up: SQLAlchemy's IntegrityError repeats the statement's parameters, the password too."""
    engine = sa.create_engine("sqlite://", paramstyle="named")
    insert = sa.text("INSERT INTO users (email, password) VALUES (:email, :password)")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE users (email TEXT UNIQUE, password TEXT)"))
        conn.execute(insert, {"email": "ada@example.com", "password": "first-" + SECRETS["signup_password"]})
        try:
            conn.execute(insert, {"email": "ada@example.com", "password": SECRETS["signup_password"]})
        except sa.exc.IntegrityError as exc:
            logger.error("sign-up failed: {}", exc)


def expired_request() -> str:
    """A request with an expired token: PyJWT rejects it, the app logs the request's headers. Returns the token."""
    now = datetime.now(UTC)
    token = jwt.encode({"sub": "user-42", "iat": now - timedelta(hours=2), "exp": now - timedelta(hours=1)},
                       SECRETS["jwt_signing_key"], algorithm="HS256")
    headers = {"host": "api.shop.internal", "authorization": f"Bearer {token}", "accept": "application/json"}
    try:
        jwt.decode(token, SECRETS["jwt_signing_key"], algorithms=["HS256"])
    except jwt.ExpiredSignatureError as exc:
        logger.error("401 GET /orders: {}; request headers {}", exc, headers)
    return token


def main() -> None:
    OUT.mkdir(exist_ok=True)
    log = OUT / "secrets.log"
    private_key = _private_key()
    logger.remove()
    # Loguru's own defaults for a file sink are diagnose=True (the leak) and backtrace=True; without the
    # frames above the catch point each record stays short.
    handler = logger.add(log, mode="w", diagnose=True, backtrace=False, colorize=False)
    logger.info("shop api starting, database {}", DATABASE_URL.split("@")[1])
    charge_order()
    archive_invoices()
    notify_release(private_key)
    sign_up()
    token = expired_request()
    logger.info("shutting down")
    logger.remove(handler)
    key_body = "".join(private_key.strip().splitlines()[1:-1])
    planted = [
        {"what": "a password local in a Loguru diagnose block", "value": SECRETS["password"]},
        {"what": "a Stripe-style live key in a diagnose block (api_key)", "value": SECRETS["api_key"]},
        {"what": "a GitHub token in a diagnose block (token)", "value": SECRETS["token"]},
        {"what": "an AWS access key ID in a diagnose block", "value": SECRETS["aws_access_key_id"]},
        {"what": "an AWS secret access key in a diagnose block", "value": SECRETS["aws_secret_access_key"]},
        {"what": "the password of a database URL in a diagnose block", "value": SECRETS["database_password"]},
        {"what": "the secret part of a Slack webhook URL", "value": SECRETS["slack_webhook_secret"]},
        {"what": "a Slack bot token", "value": SECRETS["slack_token"]},
        {"what": "a GitLab personal access token", "value": SECRETS["gitlab_token"]},
        {"what": "the body of an Ed25519 private key (PEM, from openssl)", "value": key_body},
        {"what": "a password in SQLAlchemy's [parameters: ...]", "value": SECRETS["signup_password"]},
        {"what": "a JWT in an Authorization: Bearer header", "value": token},
    ]
    (OUT / "planted.json").write_text(json.dumps(planted, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {log} ({log.stat().st_size:,} bytes) and {OUT / 'planted.json'} ({len(planted)} secrets)",
          file=sys.stderr)


if __name__ == "__main__":
    main()
