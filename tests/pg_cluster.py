"""A throwaway PostgreSQL server for tests: initdb + pg_ctl in a temporary directory.

It listens only on a unix socket in that directory (no TCP port). PostgreSQL refuses to
run as root, so under root the cluster belongs to the unprivileged user ``nobody``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path


class ClusterUnavailable(RuntimeError):
    """No PostgreSQL server can be started here; the message says why."""


def server_bin() -> Path:
    found = shutil.which("pg_ctl")
    if found and (Path(found).resolve().parent / "initdb").exists():
        return Path(found).resolve().parent
    # Debian installs the server under /usr/lib/postgresql/<major>/bin, off the PATH.
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "pg_ctl").exists() and (candidate / "initdb").exists():
            return candidate
    raise ClusterUnavailable("PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql")


class Cluster:
    def __init__(self) -> None:
        self.bin = server_bin()
        self.root = Path(tempfile.mkdtemp(prefix="newstag-pg-"))
        self.user: str | None = None
        if os.getuid() == 0:
            try:
                account = pwd.getpwnam("nobody")
            except KeyError:
                raise ClusterUnavailable("running as root and there is no 'nobody' user to run PostgreSQL") from None
            os.chown(self.root, account.pw_uid, account.pw_gid)
            self.user = "nobody"
        self.data = self.root / "data"
        self.log = self.root / "server.log"

    def _run(self, *args: str) -> None:
        result = subprocess.run([str(self.bin / args[0]), *args[1:]], user=self.user, capture_output=True,
                                text=True, timeout=120, cwd=self.root)
        if result.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise ClusterUnavailable(f"{args[0]} failed: {(result.stderr or result.stdout)[-2000:]}{log}")

    def start(self) -> str:
        """Start the server; return a SQLAlchemy URL for its 'postgres' database."""
        self._run("initdb", "-D", str(self.data), "-U", "newstag", "-A", "trust", "-E", "UTF8", "--locale=C")
        # fsync off: a throwaway cluster needs speed, not durability.
        options = f"-c listen_addresses='' -k {self.root} -c fsync=off -c max_connections=50"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o", options, "start")
        return self.url("postgres")

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://newstag@/{database}?host={self.root}"

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
