"""`build.py bench --load`: a bounded loopback load test against the production server.

It starts `build.py run` (gunicorn) on a free 127.0.0.1 port with a temporary VERIFY_DATA_DIR, seeds it (verdicts for
fixture photos, refutations with their media, one report), then runs CLIENTS concurrent clients for DURATION_S
seconds, each looping over a weighted mix of:

    lookup     GET /v1/verdicts/<sha256> of media already verified (the extension's hash-first request)
    verify     POST /v1/verify of an image never seen before (fresh bytes: a re-encoded crop of a fixture photo)
    report     POST /v1/reports on known media (the report rate limit is raised for the run, see ENV)
    refutation GET /v1/refutations?q=... and GET /v1/refutations/<id>
    clip       POST /v1/verify of a long clip (CLIPS in all, each distinct bytes of the 60 s bench clip): a job (202);
               the job's decoding shares the server's cores with the rest of the load, as it would in use

and prints throughput, p50/p99 latency per kind, errors (any unexpected status or a failed connection; target 0)
and the server's memory (RSS of the gunicorn master and its workers) after the seeding and at the end (target:
within 10 %). The server is stopped at the end. Traffic goes only to 127.0.0.1.

VERITY_LOAD_ENGINE=postgresql runs the same load with the server on a throwaway PostgreSQL cluster (Debian's package,
durable defaults; buildtasks/services.py) instead of SQLite; its figures are named load.postgresql.*. The cluster's
own memory is not in the server RSS.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures"

CLIENTS = int(os.environ.get("VERITY_LOAD_CLIENTS", "50"))
DURATION_S = float(os.environ.get("VERITY_LOAD_SECONDS", "60"))
WARMUP_S = float(os.environ.get("VERITY_LOAD_WARMUP_SECONDS", "20"))
FRESH_IMAGES = 1500  # distinct never-seen JPEGs for the verify share (more than a 60 s run can use)
MIX = {"lookup": 60, "verify": 10, "report": 10, "refutation": 20, "clip": 1}   # relative weights
CLIPS = 4  # long clips posted in all (within the per-client job cap: every client here is 127.0.0.1)
CLIP = FIXTURES / "video" / "bench" / "bench_60s_720p.mp4"
TOKEN = "load-bench-token"
# The run's configuration: the report limit is per client address and every client here is 127.0.0.1.
ENV = {"VERIFY_REPORT_RATE_LIMIT": "100000 per minute", "VERIFY_REFUTATION_TOKEN": TOKEN,
       "VERIFY_API_RATE_LIMIT": "1000000 per minute", "VERIFY_VERIFY_RATE_LIMIT": "1000000 per minute",
       # the 60 s bench clip stands for the long clips a user posts: verified as a job, as a 2-minute one would be
       "VERIFY_JOB_MIN_DURATION_S": "30"}
EXPECTED = {"lookup": {200}, "verify": {200}, "report": {201}, "refutation": {200}, "clip": {202}}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def server_rss_mb(master: int) -> tuple[float, int]:
    """(RSS of the master and its workers in MB, number of workers)."""
    workers = _children(master)
    return sum(_rss_kb(p) for p in [master, *workers]) / 1024, len(workers)


class Client:
    """One keep-alive connection to the server."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        try:
            self.conn.request(method, path, body=body, headers=headers or {})
            response = self.conn.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            raise

    def close(self) -> None:
        self.conn.close()


def fresh_images(count: int, seed: int = 7) -> list[bytes]:
    """`count` distinct JPEGs: random crops of fixture photos, downscaled and re-encoded (never seen by the server)."""
    rng = random.Random(seed)
    photos = [Image.open(p).convert("RGB") for p in sorted((FIXTURES / "photos").glob("*.jpg"))[:20]]
    for img in photos:
        img.thumbnail((900, 900))
    out = []
    for i in range(count):
        img = photos[i % len(photos)]
        w, h = img.size
        cw, ch = int(w * rng.uniform(0.6, 0.95)), int(h * rng.uniform(0.6, 0.95))
        x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
        buf = io.BytesIO()
        img.crop((x, y, x + cw, y + ch)).save(buf, "JPEG", quality=rng.randint(70, 92))
        out.append(buf.getvalue())
    return out


def distinct_clips(count: int) -> list[bytes]:
    """`count` MP4s with the bench clip's pictures and sound but distinct bytes (so no two join one job): a trailing
    ISO BMFF `free` box, which every reader skips, carries a different number in each."""
    data = CLIP.read_bytes()
    return [data + (16).to_bytes(4, "big") + b"free" + i.to_bytes(8, "big") for i in range(count)]


def _multipart(fields: dict[str, str], files: list[tuple[str, str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, filename, data in files:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                     f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def start_server(data_dir: str, port: int, settings: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """`build.py run` (gunicorn, the default workers, threads and models) on 127.0.0.1:`port` with a fresh data dir;
    `settings` are the VERIFY_ variables besides those (the load test's own by default)."""
    env = {**os.environ, **(ENV if settings is None else settings), "VERIFY_DATA_DIR": data_dir,
           "VERIFY_PORT": str(port), "VERIFY_HOST": "127.0.0.1"}
    with open(Path(data_dir) / "server.log", "wb") as log:  # the child keeps its own descriptor
        proc = subprocess.Popen([sys.executable, str(ROOT / "build.py"), "run"], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited: {(Path(data_dir) / 'server.log').read_text()[-2000:]}")
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            c.request("GET", "/v1/health")
            if c.getresponse().status == 200:
                # a worker answers only once create_app (models included) has finished
                _, workers = server_rss_mb(proc.pid)
                if workers >= 1:
                    return proc
        except OSError:
            pass
        finally:
            c.close()
        time.sleep(0.5)
    raise RuntimeError("the server did not start within 180 s")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)


def seed(port: int) -> dict[str, Any]:
    """Verdicts for fixture photos, refutations with media, and what the clients look up."""
    c = Client(port)
    # Refutations first, then the verdicts the clients look up (a verdict cached before a refutation is revalidated
    # on its next lookup: server/verdict_cache.py).
    ids = []
    originals = sorted((FIXTURES / "refutation" / "originals").glob("*.jpg"))[:10]
    for i, path in enumerate(originals):
        doc = {"claim": f"Load-test claim {i} about {path.stem}", "rating": "False", "fact_checker": "Load desk",
               "explanation": "Seeded by build.py bench --load."}
        body, ctype = _multipart({"refutation": json.dumps(doc)}, [("file", path.name, path.read_bytes())])
        status, out = c.request("POST", "/v1/refutations", body,
                                {"Content-Type": ctype, "Authorization": f"Bearer {TOKEN}"})
        if status != 201:
            raise RuntimeError(f"seeding /v1/refutations: {status} {out[:200]!r}")
        ids.append(json.loads(out)["id"])
    shas = []
    for path in sorted((FIXTURES / "photos").glob("*.jpg"))[:30]:
        status, body = c.request("POST", "/v1/verify", path.read_bytes(), {"Content-Type": "image/jpeg"})
        if status != 200:
            raise RuntimeError(f"seeding /v1/verify: {status} {body[:200]!r}")
        shas.append(json.loads(body)["sha256"])
    c.close()
    return {"shas": shas, "refutation_ids": ids, "queries": [p.stem.split("_")[0] for p in originals] + ["claim"]}


def warm_up(port: int, seeded: dict[str, Any], fresh: list[bytes], fresh_lock: threading.Lock, until: float) -> None:
    """The same traffic, unmeasured, so that start-up allocations (model arenas, thread stacks, caches) are done
    before the memory at start is read: the figure is about growth under sustained load."""
    client, rng = Client(port), random.Random()
    while time.monotonic() < until:
        with fresh_lock:
            data = fresh.pop() if fresh and rng.random() < 0.2 else None
        try:
            if data is not None:
                client.request("POST", "/v1/verify", data, {"Content-Type": "image/jpeg"})
            else:
                client.request("GET", f"/v1/verdicts/{rng.choice(seeded['shas'])}")
        except (OSError, http.client.HTTPException):
            pass
    client.close()


def run(results: dict[str, Any]) -> None:
    engine = os.environ.get("VERITY_LOAD_ENGINE", "sqlite")
    if engine == "sqlite":
        run_engine(results)
        return
    if engine != "postgresql":
        raise SystemExit(f"VERITY_LOAD_ENGINE: sqlite or postgresql, not {engine!r}")
    from .services import start_postgres

    server = start_postgres(durable=True)
    ENV["VERIFY_DATABASE_URL"] = server.new_database()
    try:
        figures: dict[str, Any] = {}
        run_engine(figures)
        results.update({"load.postgresql." + k.removeprefix("load."): v for k, v in figures.items()})
    finally:
        del ENV["VERIFY_DATABASE_URL"]
        server.stop()


def run_engine(results: dict[str, Any]) -> None:
    from .bench import figure

    fresh = fresh_images(FRESH_IMAGES)
    fresh_lock = threading.Lock()
    clips = distinct_clips(CLIPS)
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="verity-load-") as data_dir:
        proc = start_server(data_dir, port)
        try:
            seeded = seed(port)
            rss_seeded, _ = server_rss_mb(proc.pid)
            warm_until = time.monotonic() + WARMUP_S
            warm = [threading.Thread(target=warm_up, args=(port, seeded, fresh, fresh_lock, warm_until), daemon=True)
                    for _ in range(CLIENTS)]
            for t in warm:
                t.start()
            for t in warm:
                t.join()
            time.sleep(2)
            rss_start, workers = server_rss_mb(proc.pid)
            lat: dict[str, list[float]] = {k: [] for k in MIX}
            errors: dict[str, int] = {}
            lock = threading.Lock()
            stop_at = time.monotonic() + DURATION_S
            kinds, weights = list(MIX), list(MIX.values())

            def worker(n: int) -> None:
                rng = random.Random(n)
                client = Client(port)
                while time.monotonic() < stop_at:
                    kind = rng.choices(kinds, weights)[0]
                    if kind == "lookup":
                        req = ("GET", f"/v1/verdicts/{rng.choice(seeded['shas'])}", None, {})
                    elif kind == "verify":
                        with fresh_lock:
                            data = fresh.pop() if fresh else None
                        if data is None:
                            continue
                        req = ("POST", "/v1/verify", data, {"Content-Type": "image/jpeg"})
                    elif kind == "clip":
                        with fresh_lock:
                            data = clips.pop() if clips else None
                        if data is None:
                            continue
                        req = ("POST", "/v1/verify", data, {"Content-Type": "video/mp4"})
                    elif kind == "report":
                        body = json.dumps({"sha256": rng.choice(seeded["shas"]), "category": "misleading_context",
                                           "text": "load test", "page_url": "https://example.invalid/page"}).encode()
                        req = ("POST", "/v1/reports", body, {"Content-Type": "application/json"})
                    elif rng.random() < 0.5:
                        req = ("GET", f"/v1/refutations?q={rng.choice(seeded['queries'])}", None, {})
                    else:
                        req = ("GET", f"/v1/refutations/{rng.choice(seeded['refutation_ids'])}", None, {})
                    started = time.perf_counter()
                    try:
                        status, _ = client.request(*req)
                    except (OSError, http.client.HTTPException) as exc:
                        status = type(exc).__name__  # type: ignore[assignment]
                    elapsed = (time.perf_counter() - started) * 1000
                    with lock:
                        if status in EXPECTED[kind]:
                            lat[kind].append(elapsed)
                        else:
                            key = f"{kind}:{status}"
                            errors[key] = errors.get(key, 0) + 1
                client.close()

            threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(CLIENTS)]
            began = time.monotonic()
            for t in threads:
                t.start()
            timeline = []
            while any(t.is_alive() for t in threads) and time.monotonic() < stop_at + 180:
                time.sleep(5)
                timeline.append(round(server_rss_mb(proc.pid)[0]))
            for t in threads:
                t.join(timeout=1)
            elapsed_s = time.monotonic() - began
            rss_end, workers_end = server_rss_mb(proc.pid)
        finally:
            stop_server(proc)
        log_tail = (Path(data_dir) / "server.log").read_text(errors="replace")
    all_ms = sorted(x for v in lat.values() for x in v)
    total = len(all_ms) + sum(errors.values())
    print(f"{CLIENTS} clients, {elapsed_s:.0f} s (after {WARMUP_S:g} s warm-up), {workers} workers; {total} requests, errors: {errors or 0}")
    print(f"server RSS (MB): {rss_seeded:.0f} after seeding; every 5 s of the run: {rss_start:.0f} -> {timeline} -> {rss_end:.0f}")
    print(f"{'kind':<11} {'ok':>7} {'p50 ms':>8} {'p99 ms':>8}")
    for kind, values in lat.items():
        values.sort()
        if values:
            print(f"{kind:<11} {len(values):>7} {statistics.median(values):>8.1f} {values[int(0.99 * (len(values) - 1))]:>8.1f}")
    if errors:
        print("server log (tail):\n" + "\n".join(line for line in log_tail.splitlines()
                                                 if "ERROR" in line or "Traceback" in line or "Error" in line)[-3000:])
    figure(results, "load.clients", CLIENTS, "clients")
    figure(results, "load.duration", elapsed_s, "s")
    figure(results, "load.throughput", total / elapsed_s, "req/s")
    figure(results, "load.p50_all", statistics.median(all_ms) if all_ms else 0, "ms")
    figure(results, "load.p99_all", all_ms[int(0.99 * (len(all_ms) - 1))] if all_ms else 0, "ms")
    for kind, values in lat.items():
        if values:
            figure(results, f"load.{kind}.count", len(values), "requests")
            figure(results, f"load.{kind}.p50", statistics.median(values), "ms")
            figure(results, f"load.{kind}.p99", values[int(0.99 * (len(values) - 1))], "ms")
    figure(results, "load.errors", sum(errors.values()), "requests", "0")
    figure(results, "load.rss_after_seeding", rss_seeded, "MB")
    figure(results, "load.rss_start", rss_start, "MB")
    figure(results, "load.rss_end", rss_end, "MB")
    figure(results, "load.rss_growth", (rss_end - rss_start) / rss_start * 100 if rss_start else 0, "%", "<= 10")
