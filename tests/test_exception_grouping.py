"""Unhandled exceptions group as Sentry groups issues: type, masked message and culprit frame."""

from __future__ import annotations

import json

from analyzer.analysis.exceptions import culprit

SITE = "/usr/local/lib/python3.12/site-packages"


def asgi_traceback(func: str, path: str, exc: str) -> str:
    """uvicorn's record of an exception escaping a handler (reference 1.4), the handler's frame innermost in-app."""
    return (
        "ERROR:    Exception in ASGI application\n"
        "Traceback (most recent call last):\n"
        f'  File "{SITE}/uvicorn/protocols/http/h11_impl.py", line 403, in run_asgi\n'
        "    result = await app(  # type: ignore[func-returns-value]\n"
        f'  File "{SITE}/starlette/routing.py", line 76, in app\n'
        "    response = await f(request)\n"
        f'  File "{path}", line 12, in {func}\n'
        "    return compute()\n"
        '  File "/usr/local/lib/python3.12/json/__init__.py", line 346, in loads\n'
        "    return _default_decoder.decode(s)\n"
        f"{exc}\n"
    )


def test_culprit_is_the_innermost_frame_of_the_app_not_a_library_or_the_stdlib():
    text = asgi_traceback("apply_promo", "/srv/app/routes/promo.py", "KeyError: 'black-friday'")
    assert culprit(text) == "app/routes/promo.py in apply_promo"
    only_libraries = "Traceback (most recent call last):\n" f'  File "{SITE}/x/y.py", line 1, in f\nValueError: v\n'
    assert culprit(only_libraries) == "site-packages/x/y.py in f"  # no frame of its own: the innermost stands in
    loguru = 'Traceback (most recent call last):\n> File "/app/main.py", line 3, in handler\nKeyError: 1\n'
    assert culprit(loguru) == "app/main.py in handler"
    assert culprit("no traceback here") is None


def test_two_exceptions_in_one_endpoint_and_one_exception_in_two_endpoints(cli, tmp_path):
    records = [
        asgi_traceback("apply_promo", "/app/app/routes/promo.py", "KeyError: 'black-friday'"),
        asgi_traceback("apply_promo", "/app/app/routes/promo.py", "KeyError: 'cyber-monday'"),  # same group
        asgi_traceback("apply_promo", "/app/app/routes/promo.py", "ZeroDivisionError: division by zero"),
        asgi_traceback("checkout", "/app/app/routes/cart.py", "KeyError: 'black-friday'"),
    ]
    log = tmp_path / "api.log"
    log.write_text("".join(records))
    result = cli("scan", str(log), "--format", "json")
    assert result.exit_code == 0, result.output
    found = {(i["exception"].split(":")[0], i["culprit"]): i for i in json.loads(result.stdout)["incidents"]}
    assert set(found) == {
        ("KeyError", "app/routes/promo.py in apply_promo"),
        ("ZeroDivisionError", "app/routes/promo.py in apply_promo"),
        ("KeyError", "app/routes/cart.py in checkout"),
    }
    promo = found[("KeyError", "app/routes/promo.py in apply_promo")]
    assert promo["count"] == 2 and promo["signature"] == "unhandled_asgi_exception"
    assert promo["title"] == "KeyError: 'black-friday'"
    assert len({i["fingerprint"] for i in found.values()}) == 3
