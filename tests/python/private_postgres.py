"""A PostgreSQL server of the test's own (initdb in a temporary folder, a free loopback port),
for faults that stop the server: stopping the shared one would break every other test running.

    with private_postgres() as server:      # started; `server.settings` is its `test` database
        server.stop()                       # immediate: like a crash or a failover
        server.start()

Needs root (initdb and the server run as the `postgres` user) and Debian's server binaries.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from genesys_finance.settings import PostgresSettings

OWNER = "postgres"


def _bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql")
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PrivateServer:
    datadir: Path
    port: int
    bindir: Path

    @property
    def settings(self) -> PostgresSettings:
        return PostgresSettings(
            host="127.0.0.1", port=self.port, user=OWNER, password="unused", database="test"
        )

    def _as_owner(self, *command: str) -> None:
        subprocess.run(
            ["runuser", "-u", OWNER, "--", *command],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.datadir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_owner(
            str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-o", options,
            "-l", str(self.datadir / "server.log"), "-w", "start",
        )  # fmt: skip

    def stop(self) -> None:
        """Immediate shutdown: connections cut, no checkpoint (recovery runs on start)."""
        self._as_owner(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate",
                       "-w", "stop")  # fmt: skip


@contextmanager
def private_postgres() -> Iterator[PrivateServer]:
    bindir = _bindir()
    owner = pwd.getpwnam(OWNER)
    root = Path(tempfile.mkdtemp(prefix="gf-private-pg-"))
    try:
        os.chown(root, owner.pw_uid, owner.pw_gid)
        server = PrivateServer(root / "data", _free_port(), bindir)
        server._as_owner(
            str(bindir / "initdb"), "-D", str(server.datadir), "-A", "trust", "-U", OWNER,
            "--no-sync", "-E", "UTF8", "--locale", "C",
        )  # fmt: skip
        server.start()
        try:
            server._as_owner(
                str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(server.port),
                "-U", OWNER, "test",
            )  # fmt: skip
            yield server
        finally:
            subprocess.run(
                ["runuser", "-u", OWNER, "--", str(bindir / "pg_ctl"), "-D",
                 str(server.datadir), "-m", "immediate", "stop"],
                capture_output=True,
                check=False,
            )  # fmt: skip
    finally:
        shutil.rmtree(root, ignore_errors=True)
