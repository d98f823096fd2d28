"""Throwaway PostgreSQL and Redis servers from Debian's packages, for the tests (tests/services.py) and the storage
benchmark: each listens on 127.0.0.1 on a free port, keeps its data in a temporary folder, and is stopped by stop()."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field


class ServiceUnavailable(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bindir() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return os.path.dirname(found[-1]) if found else None


@dataclass
class Postgres:
    """A throwaway cluster: `new_database()` gives each test a database of its own."""

    bindir: str
    datadir: str
    port: int
    run_as: list[str]
    _stopped: bool = field(default=False)

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        import psycopg

        name = "verity_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if not self._stopped:
            self._stopped = True
            subprocess.run([*self.run_as, f"{self.bindir}/pg_ctl", "-D", self.datadir, "-m", "immediate", "-w",
                            "stop"], capture_output=True)
            shutil.rmtree(self.datadir, ignore_errors=True)


def start_postgres(durable: bool = False) -> Postgres:
    """initdb + pg_ctl start as the `postgres` user when run as root (PostgreSQL refuses to run as root).

    durable=False (the tests) turns fsync off for speed; the benchmark keeps PostgreSQL's durable defaults.
    """
    bindir = _pg_bindir()
    if bindir is None:
        raise ServiceUnavailable("PostgreSQL is not installed (Debian package postgresql)")
    run_as: list[str] = []
    datadir = tempfile.mkdtemp(prefix="verity-pg-")
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError as exc:
            raise ServiceUnavailable("no postgres user to run the server as") from exc
        os.chown(datadir, user.pw_uid, user.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*run_as, f"{bindir}/initdb", "-D", datadir, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                    "--locale=C.UTF-8"], check=True, capture_output=True)
    port = _free_port()
    options = (f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={datadir}"
               " -c max_connections=300")
    if not durable:  # a test cluster: the tests are about behaviour, not power loss
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    result = subprocess.run([*run_as, f"{bindir}/pg_ctl", "-D", datadir, "-o", options, "-l", f"{datadir}/log",
                             "-w", "-t", "60", "start"], capture_output=True, text=True)
    if result.returncode != 0:
        log = open(f"{datadir}/log").read() if os.path.exists(f"{datadir}/log") else ""
        shutil.rmtree(datadir, ignore_errors=True)
        raise RuntimeError(f"pg_ctl start failed: {result.stdout}{result.stderr}{log}")
    return Postgres(bindir, datadir, port, run_as)


@dataclass
class Redis:
    process: subprocess.Popen[bytes]
    port: int
    datadir: str

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.datadir, ignore_errors=True)


def start_redis() -> Redis:
    binary = shutil.which("redis-server")
    if binary is None:
        raise ServiceUnavailable("Redis is not installed (Debian package redis-server)")
    port = _free_port()
    datadir = tempfile.mkdtemp(prefix="verity-redis-")
    process = subprocess.Popen([binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", datadir, "--save", "",
                                "--appendonly", "no", "--protected-mode", "yes"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return Redis(process, port, datadir)
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("redis-server did not answer PING within 30 s")
