"""Real gunicorn servers for the tests that need processes, not a test client (durability, scale-out)."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time

from media_fixtures import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_request(port: int, method: str, path: str, body: bytes | None = None,
                 headers: dict[str, str] | None = None, timeout: float = 60) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def start_gunicorn(port: int, env: dict[str, str], workers: int = 2, threads: int = 2) -> subprocess.Popen[bytes]:
    """`server:create_app()` under gunicorn on 127.0.0.1:port with VERIFY_* from `env`, in its own process group;
    returns once GET /v1/health answers 200."""
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers",
                             str(workers), "--threads", str(threads), "server:create_app()"], cwd=ROOT,
                            env=dict(os.environ, PYTHONPATH=str(ROOT), **env), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if http_request(port, "GET", "/v1/health")[0] == 200:
                return proc
        except OSError:
            pass
        if proc.poll() is not None:
            raise RuntimeError("the server exited during start-up")
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    raise RuntimeError("the server did not start")


def stop_gunicorn(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group; SIGKILL it if it has not stopped within 30 s."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
