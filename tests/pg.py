"""A PostgreSQL server of the tests' own: a cluster in a temporary directory on a free port.

`initdb` and `pg_ctl` from the machine's PostgreSQL (Debian's `postgresql` package puts them
in /usr/lib/postgresql/<version>/bin), trust authentication on 127.0.0.1 only, fsync off
(a test cluster: its data may go). PostgreSQL refuses to run as root, so under root the
cluster belongs to the `postgres` user (`runuser`). Nothing depends on a system service.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

USER = "warroom"


def binaries() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(versions[-1]).parent if versions else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Cluster:
    """One running server; `url(database)` to connect, `room()` for a fresh room name."""

    def __init__(self) -> None:
        bindir = binaries()
        if bindir is None:
            raise FileNotFoundError("PostgreSQL is not installed (Debian package postgresql)")
        self.bindir = bindir
        self.port = free_port()
        self.tmp = Path(tempfile.mkdtemp(prefix="warroom-pg-"))
        self.data = self.tmp / "data"
        self.owner: str | None = None
        if os.geteuid() == 0:
            self.owner = "postgres"
            try:
                entry = pwd.getpwnam(self.owner)
            except KeyError:
                raise FileNotFoundError("running as root and no postgres user to run PostgreSQL as") from None
            os.chown(self.tmp, entry.pw_uid, entry.pw_gid)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", USER, "--no-sync", "-E", "UTF8")
        self.start()
        self.psql("postgres", "CREATE DATABASE warroom")

    def _run(self, program: str, *args: str) -> subprocess.CompletedProcess[str]:
        argv = [str(self.bindir / program), *args]
        if self.owner:
            argv = ["runuser", "-u", self.owner, "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=self.tmp)
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed: {done.stderr.strip()[-2000:]}")
        return done

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.tmp} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c max_connections=200"
        )
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.tmp / "server.log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def url(self, database: str = "warroom") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def psql(self, database: str, statement: str) -> str:
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as conn:
            cursor = conn.execute(statement)
            return str(cursor.fetchall()) if cursor.description else ""

    @staticmethod
    def room() -> str:
        return f"test {uuid.uuid4().hex[:12]}"

    def close(self) -> None:
        try:
            self.stop("immediate")
        except RuntimeError:
            pass
        shutil.rmtree(self.tmp, ignore_errors=True)
