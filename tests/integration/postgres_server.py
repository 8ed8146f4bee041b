"""A real, throwaway PostgreSQL server for the tests: ``initdb`` + ``pg_ctl`` on loopback.

The binaries are looked up on PATH, then in Debian's ``/usr/lib/postgresql/<version>/bin``
(the ``postgresql`` package puts them there, off PATH; ``.ci/run`` installs it). ``initdb``
refuses to run as root, so as root the server runs as the ``postgres`` user (``runuser``), with
its data directory and unix socket in a temporary directory that user owns. Missing binaries or
no such user: the caller skips, saying why.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

SUPERUSER_PASSWORD = "super-secret"  # noqa: S105 - a throwaway test server on loopback
READER = "reader"
READER_PASSWORD = "reader-secret"  # noqa: S105


@dataclass(frozen=True)
class Server:
    """A running server: its port, and a DSN for a role and a database."""

    port: int

    def dsn(self, database: str, user: str = READER, password: str = READER_PASSWORD) -> str:
        return f"postgresql://{user}:{password}@127.0.0.1:{self.port}/{database}"

    def superuser(self, database: str) -> str:
        return self.dsn(database, "postgres", SUPERUSER_PASSWORD)


def find_binaries() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``: on PATH, else Debian's newest version."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).resolve().parent
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return Path(versions[-1]).parent if versions else None


def why_not() -> str | None:
    """Why no server can start here (None: it can)."""
    if find_binaries() is None:
        return (
            "PostgreSQL's initdb/pg_ctl are not on PATH nor in /usr/lib/postgresql/*/bin: "
            "install Debian's 'postgresql' package (.ci/run does when it runs as root)"
        )
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user to run initdb as"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def running_server() -> Iterator[Server]:
    """Start a server, yield it, stop it and delete its files."""
    binaries = find_binaries()
    assert binaries is not None
    as_user: list[str] = []
    base = Path(tempfile.mkdtemp(prefix="conveyor-pg-"))
    if os.geteuid() == 0:
        account = pwd.getpwnam("postgres")
        os.chown(base, account.pw_uid, account.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, log = base / "data", base / "server.log"
    pwfile = base / "pw"
    pwfile.write_text(SUPERUSER_PASSWORD + "\n")
    if as_user:
        os.chown(pwfile, account.pw_uid, account.pw_gid)

    def run(*args: str) -> None:
        done = subprocess.run([*as_user, *args], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed:\n{done.stdout}{done.stderr}")

    try:
        run(
            str(binaries / "initdb"), "-D", str(data), "-U", "postgres", f"--pwfile={pwfile}",
            "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--locale=C", "-N",
        )  # fmt: skip
        for attempt in range(3):  # another process may take the port between probe and start
            port = _free_port()
            options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
            try:
                run(str(binaries / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-o",
                    options, "start")  # fmt: skip
                break
            except RuntimeError:
                if attempt == 2:
                    raise
        yield Server(port)
    finally:
        if (data / "postmaster.pid").exists():
            with contextlib.suppress(RuntimeError):
                run(str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)
