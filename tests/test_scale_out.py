"""Scale-out on one PostgreSQL: two API servers (separate gunicorn processes, as on two hosts) share the database and
the hash index without losing writes. The servers share DATA_DIR as hosts share a media store (docs/deploy.md)."""

from __future__ import annotations

import json
import subprocess
import threading
import uuid
from pathlib import Path

import pytest
from media_fixtures import FIXTURES
from servers import free_port, http_request, start_gunicorn, stop_gunicorn

ORIGINALS = FIXTURES / "refutation" / "originals"
VARIANTS = FIXTURES / "refutation" / "variants"
TOKEN = "scale-out-token"


def _http(port: int, method: str, path: str, body: bytes | None = None,
          headers: dict[str, str] | None = None) -> tuple[int, dict]:
    status, data = http_request(port, method, path, body, headers, timeout=120)
    return status, json.loads(data) if data else {}


def _multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = "verity" + uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (filename, data) in files.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                     f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _start(database_url: str, data_dir: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {"VERIFY_DATA_DIR": str(data_dir), "VERIFY_DATABASE_URL": database_url, "VERIFY_REFUTATION_TOKEN": TOKEN,
           "VERIFY_REPORT_RATE_LIMIT": "100000 per minute", "VERIFY_VERIFY_RATE_LIMIT": "100000 per minute",
           "VERIFY_API_RATE_LIMIT": "100000 per minute", "VERIFY_LOAD_MODELS": "false"}
    return start_gunicorn(port, env, workers=2, threads=4), port


@pytest.fixture
def two_servers(postgres_url, tmp_path):
    """Two gunicorn servers (2 workers each) started at the same moment on one new PostgreSQL database."""
    data_dir = tmp_path / "shared-data"
    started: list[subprocess.Popen] = []
    try:
        results: list = [None, None]

        def start(i: int) -> None:
            results[i] = _start(postgres_url, data_dir)

        threads = [threading.Thread(target=start, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        started = [r[0] for r in results if r]
        assert all(results), "both servers start (their four workers migrate the new database once, together)"
        yield postgres_url, results[0][1], results[1][1]
    finally:
        for proc in started:
            stop_gunicorn(proc)


def test_scale_out_refutation_written_through_one_server_matched_through_the_other(two_servers):
    _, port_a, port_b = two_servers
    caption = (VARIANTS / "kodak_kodim03__caption_below.jpg").read_bytes()
    status, before = _http(port_b, "POST", "/v1/verify", caption, {"Content-Type": "image/jpeg"})
    assert status == 200 and before["refutation"] is None  # cached in B (and in the shared cache) before the refutation

    original = (ORIGINALS / "kodak_kodim03.jpg").read_bytes()
    claim = {"claim": "Photo shows the flooded station this morning", "rating": "False",
             "fact_checker": "Example Checks", "review_url": "https://factcheck.example/flood"}
    body, content_type = _multipart({"refutation": json.dumps(claim)}, {"file": ("kodak_kodim03.jpg", original)})
    status, created = _http(port_a, "POST", "/v1/refutations", body,
                            {"Content-Type": content_type, "Authorization": f"Bearer {TOKEN}"})
    assert status == 201

    # Each server has two workers with their own in-memory index: ask several times so both workers of B answer.
    for _ in range(4):
        status, exact = _http(port_b, "POST", "/v1/verify", original, {"Content-Type": "image/jpeg"})
        assert status == 200 and exact["refutation"]["id"] == created["id"]
        assert exact["refutation"]["match"]["method"] == "sha256"
        for name in ("kodak_kodim03__caption_below.jpg", "kodak_kodim03__banner_top.jpg"):
            status, variant = _http(port_b, "POST", "/v1/verify", (VARIANTS / name).read_bytes(),
                                    {"Content-Type": "image/jpeg"})
            assert status == 200, variant
            assert variant["refutation"] is not None, name
            assert variant["refutation"]["id"] == created["id"]
            assert variant["refutation"]["match"]["method"] == "pdq+orb"  # the stored original is in the shared store


def test_scale_out_concurrent_reports_through_both_servers_none_lost_chain_intact(two_servers, tmp_path):
    """Reporters hammer both servers at once: every acknowledged report is readable through the other server, the
    queue counts them all, and the one audit chain that every worker appends to stays unbroken, its head anchored in
    the shared DATA_DIR by all four workers."""
    database_url, port_a, port_b = two_servers
    acknowledged: list[tuple[int, str, str]] = []
    errors: list[str] = []
    lock = threading.Lock()

    def send(port: int, n: int) -> None:
        for i in range(n):
            status, answer = _http(port, "POST", "/v1/reports", *_report_file(i))
            if status != 201:
                errors.append(f"{status} {answer}")
                continue
            with lock:
                acknowledged.append((port, answer["id"], answer["receipt"]))

    threads = [threading.Thread(target=send, args=(port, 15)) for port in (port_a, port_b, port_a, port_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(acknowledged) == 60
    for port, report_id, receipt in acknowledged:
        other = port_b if port == port_a else port_a
        status, seen = _http(other, "GET", f"/v1/reports/{report_id}?receipt={receipt}")
        assert status == 200 and seen["id"] == report_id

    from server.audit import AuditLog
    from server.storage import open_storage

    storage = open_storage(database_url, tmp_path / "shared-data")  # the fixture's shared DATA_DIR
    try:
        count = storage.connect().execute("SELECT count(*) FROM reports").fetchone()[0]
        items = storage.connect().execute("SELECT sum(report_count) FROM report_items").fetchone()[0]
        log = AuditLog(storage)
        chain = log.verify()
        anchor = log.anchor.read()
    finally:
        storage.close()
    assert count == 60 and items == 60
    assert chain.ok and chain.entries >= 60 and chain.anchors  # compared with the anchor file
    assert (anchor.head_seq, anchor.head_hash) == (chain.head_seq, chain.head_hash)


def _report_file(i: int) -> tuple[bytes, dict[str, str]]:
    """A report with a small file attached: eight distinct images, so reports collide on the same queue items."""
    from io import BytesIO

    from PIL import Image

    image = Image.new("RGB", (32, 32), ((i % 8) * 30, 80, 160))
    out = BytesIO()
    image.save(out, format="PNG")
    body, content_type = _multipart({"category": "synthetic", "text": f"report {i}"},
                                    {"file": (f"r{i % 8}.png", out.getvalue())})
    return body, {"Content-Type": content_type}
