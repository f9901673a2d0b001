"""A throw-away PostgreSQL server for tests and benchmarks.

`PgServer.start()` runs initdb into a temporary directory, starts `postgres` on 127.0.0.1 at a
free port (unix socket in the same temporary directory), creates a password-protected role and a
database, and `stop()` shuts it down and deletes everything. When the process runs as root
(initdb refuses root), the server runs as the `postgres` system user through `runuser`.

`find_pg_bin()` returns the directory of the server binaries or None; callers skip with a
stated reason when it is None.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

USER = "wb"
DATABASE = "wbtest"


def find_pg_bin() -> Path | None:
    """Directory holding initdb/pg_ctl/postgres, or None when PostgreSQL is not installed."""
    candidates = []
    env = os.environ.get("PG_BIN")
    if env:
        candidates.append(Path(env))
    for exe in ("pg_ctl", "initdb"):
        found = shutil.which(exe)
        if found:
            candidates.append(Path(os.path.realpath(found)).parent)

    def version(p: str) -> float:
        try:
            return float(Path(p).parent.name)
        except ValueError:
            return 0.0

    candidates += [
        Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True)
    ]
    for c in candidates:
        if (c / "initdb").exists() and (c / "pg_ctl").exists() and (c / "postgres").exists():
            return c
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PgServer:
    bin_dir: Path
    base: Path = field(init=False)
    port: int = 0
    password: str = field(default_factory=lambda: "pw-" + secrets.token_hex(8))
    _run_as: str | None = None

    @property
    def uri(self) -> str:
        return f"postgresql://{USER}:{self.password}@127.0.0.1:{self.port}/{DATABASE}"

    def uri_with(self, *, user=USER, password=None, port=None, database=DATABASE) -> str:
        pw = self.password if password is None else password
        return f"postgresql://{user}:{pw}@127.0.0.1:{port or self.port}/{database}"

    def _cmd(self, args: list[str]) -> list[str]:
        return ["runuser", "-u", self._run_as, "--", *args] if self._run_as else args

    def _run(self, args: list[str], **kw) -> subprocess.CompletedProcess:
        return subprocess.run(self._cmd(args), check=True, capture_output=True, text=True, **kw)

    def start(self) -> PgServer:
        self.base = Path(tempfile.mkdtemp(prefix="wb-pg-"))
        atexit.register(self.stop)  # safety net when the caller's finalizer never runs
        data, sock = self.base / "data", self.base / "sock"
        data.mkdir()
        sock.mkdir()
        pwfile = self.base / "pw"
        pwfile.write_text(self.password + "\n")
        (self.base / "log").touch()
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                pw = pwd.getpwnam("nobody")
            self._run_as = pw.pw_name
            os.chmod(self.base, 0o755)
            for p in (data, sock, pwfile, self.base / "log"):
                os.chown(p, pw.pw_uid, pw.pw_gid)
        os.chmod(data, 0o700)
        os.chmod(pwfile, 0o600)
        self._run(
            [
                str(self.bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                USER,
                f"--pwfile={pwfile}",
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ]
        )
        last = None
        for _ in range(5):
            self.port = _free_port()
            opts = (
                f"-p {self.port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off "
                f"-c synchronous_commit=off -c full_page_writes=off -c TimeZone=UTC"
            )
            try:
                self._run(
                    [
                        str(self.bin_dir / "pg_ctl"),
                        "-D",
                        str(data),
                        "-o",
                        opts,
                        "-l",
                        str(self.base / "log"),
                        "-w",
                        "-t",
                        "60",
                        "start",
                    ]
                )
                break
            except subprocess.CalledProcessError as exc:  # port taken in between: retry
                last = exc
                time.sleep(0.2)
        else:
            log = (self.base / "log").read_text() if (self.base / "log").exists() else ""
            self.stop()
            raise RuntimeError(f"postgres did not start: {last.stderr if last else ''}\n{log}")
        import psycopg

        with psycopg.connect(self.uri_with(database="postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")
        return self

    def stop(self) -> None:
        data = self.base / "data"
        if (data / "postmaster.pid").exists():
            subprocess.run(
                self._cmd(
                    [str(self.bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]
                ),
                capture_output=True,
            )
        shutil.rmtree(self.base, ignore_errors=True)

    def connect(self):
        import psycopg

        return psycopg.connect(self.uri, autocommit=True)


def start_for_tests(request):
    """Start a throw-away server for a pytest fixture and stop it at the fixture's end.

    Without the server binaries the test is skipped with the reason, or fails under CI (where
    `.ci/run` installs Debian's postgresql, so a missing server is a broken set-up).
    """
    import pytest

    bin_dir = find_pg_bin()
    if bin_dir is None:
        reason = (
            "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found; install "
            "Debian's postgresql package to run the PostgreSQL tests"
        )
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    server = PgServer(bin_dir)
    request.addfinalizer(server.stop)
    return server.start()


def copy_frame(conn, table: str, frame, types: dict[str, str], chunk_rows: int = 500_000) -> None:
    """Create `table` with column `types` and fill it from a polars DataFrame by COPY."""
    cols = ", ".join(f'"{c}" {t}' for c, t in types.items())
    conn.execute(f'DROP TABLE IF EXISTS "{table}"')
    conn.execute(f'CREATE TABLE "{table}" ({cols})')
    names = ", ".join(f'"{c}"' for c in types)
    sql = f"COPY \"{table}\" ({names}) FROM STDIN (FORMAT csv, NULL '')"
    sub = frame.select(list(types))
    with conn.cursor() as cur, cur.copy(sql) as copy:
        for start in range(0, max(sub.height, 1), chunk_rows):
            part = sub.slice(start, chunk_rows)
            copy.write(part.write_csv(include_header=False, null_value="").encode())
