"""POST /v1/reports and GET /v1/reports/<id>: each flow, each refusal, and durability across a SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from io import BytesIO
from pathlib import Path

import pytest
from media_fixtures import fixture_path
from servers import free_port, http_request, start_gunicorn

from server import create_app

ENGINES = ("sqlite", "postgresql")  # tests using the app run on both storage engines

PHOTO = "photos/deb_mate_Dune.jpg"
OTHER_PHOTO = "photos/deb_plasma_Kite.jpg"


def _report_file(client, name: str = PHOTO, **fields):
    data = {"file": (BytesIO(fixture_path(name).read_bytes()), "media.jpg"), "category": "synthetic", **fields}
    return client.post("/v1/reports", data=data, content_type="multipart/form-data")


def _stored(app) -> dict[str, int]:
    conn = app.extensions["verify"].storage.connect()
    media_dir = app.extensions["verify"].settings.data_dir / "media"
    return {"reports": conn.execute("SELECT COUNT(*) FROM reports").fetchone()[0],
            "items": conn.execute("SELECT COUNT(*) FROM report_items").fetchone()[0],
            "audit": conn.execute("SELECT COUNT(*) FROM audit_log WHERE kind = 'report'").fetchone()[0],
            "files": sum(1 for p in media_dir.rglob("*") if p.is_file()) if media_dir.exists() else 0}


def _assert_problem(response, status: int, slug: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert response.json["type"].endswith("/" + slug)
    assert response.json["status"] == status


def test_reports_file_upload_201(client):
    r = _report_file(client, text="Looks generated", source_url="https://example.org/a.jpg",
                     page_url="https://example.org/post")
    assert r.status_code == 201
    body = r.json
    assert set(body) >= {"id", "receipt", "status", "status_url", "sha256"}
    assert body["status"] == "open"
    assert r.headers["Location"] == body["status_url"] == f"/v1/reports/{body['id']}"
    status = client.get(f"{body['status_url']}?receipt={body['receipt']}")
    assert status.status_code == 200
    assert status.json["status"] == "open" and status.json["category"] == "synthetic"


def test_reports_sha256_of_verified_media_201(client):
    data = fixture_path(PHOTO).read_bytes()
    sha = client.post("/v1/verify", data=data, content_type="image/jpeg").json["sha256"]
    r = client.post("/v1/reports", json={"sha256": sha.upper(), "category": "misleading_context", "text": "old photo"})
    assert r.status_code == 201
    assert r.json["sha256"] == sha


def test_reports_same_media_many_times_one_item_with_count(app, client):
    ids = {_report_file(client, text=f"report {i}").json["id"] for i in range(3)}
    sha = _report_file(client, category="manipulated").json["sha256"]
    assert client.post("/v1/reports", json={"sha256": sha, "category": "other"}).status_code == 201
    _report_file(client, OTHER_PHOTO)
    assert len(ids) == 3
    items = app.extensions["verity_reports"].store.queue(status="open")
    assert [(i["sha256"] == sha, i["report_count"]) for i in items] == [(True, 5), (False, 1)]
    assert items[0]["categories"] == ["manipulated", "other", "synthetic"]


def test_reports_status_hides_other_reporters_200(client):
    first = _report_file(client, text="my own words").json
    _report_file(client, text="SECRET other reporter text")
    body = client.get(f"/v1/reports/{first['id']}", headers={"X-Verity-Receipt": first["receipt"]})
    assert body.status_code == 200
    text = body.get_data(as_text=True)
    assert "SECRET" not in text and "my own words" not in text and "client" not in text
    verify = client.post("/v1/verify", data=fixture_path(PHOTO).read_bytes(), content_type="image/jpeg")
    assert "SECRET" not in verify.get_data(as_text=True)


def test_reports_forged_receipt_403(client):
    body = _report_file(client).json
    _assert_problem(client.get(f"/v1/reports/{body['id']}?receipt={body['receipt'][:-2]}xx"), 403, "invalid-receipt")
    other = _report_file(client, OTHER_PHOTO).json
    _assert_problem(client.get(f"/v1/reports/{body['id']}?receipt={other['receipt']}"), 403, "invalid-receipt")


def test_reports_missing_receipt_401(client):
    body = _report_file(client).json
    _assert_problem(client.get(f"/v1/reports/{body['id']}"), 401, "receipt-required")


def test_reports_unknown_id_404(client):
    _assert_problem(client.get("/v1/reports/0123456789abcdef0123?receipt=abc"), 404, "report-not-found")
    _assert_problem(client.get("/v1/reports/../../etc?receipt=abc"), 404, "not-found")


@pytest.mark.parametrize(("payload", "status", "slug"), [
    ({"category": "fake-news", "sha256": "0" * 64}, 400, "invalid-category"),
    ({"sha256": "0" * 64}, 400, "invalid-category"),
    ({"category": "synthetic"}, 400, "missing-media"),
    ({"category": "synthetic", "sha256": "ab" * 32}, 422, "unknown-media"),
    ({"category": "synthetic", "sha256": "xyz"}, 400, "invalid-sha256"),
    ({"category": "synthetic", "sha256": 12}, 400, "invalid-sha256"),
    ({"category": "synthetic", "sha256": "0" * 64, "source_url": "javascript:alert(1)"}, 400, "invalid-url"),
    ({"category": "synthetic", "sha256": "0" * 64, "page_url": "https://x/" + "a" * 3000}, 400, "invalid-url"),
    ({"category": "synthetic", "sha256": "0" * 64, "text": ["list"]}, 400, "invalid-text"),
])
def test_reports_bad_json_4xx_nothing_stored(app, client, payload, status, slug):
    _assert_problem(client.post("/v1/reports", json=payload), status, slug)
    assert _stored(app) == {"reports": 0, "items": 0, "audit": 0, "files": 0}


def test_reports_oversized_text_400_nothing_stored(app, client):
    limit = app.config["REPORT_TEXT_MAX"]
    r = _report_file(client, text="x" * (limit + 1))
    _assert_problem(r, 400, "text-too-long")
    assert r.json["max_length"] == limit
    assert _stored(app) == {"reports": 0, "items": 0, "audit": 0, "files": 0}


def test_reports_unsupported_file_415_nothing_stored(app, client):
    r = client.post("/v1/reports", data={"file": (BytesIO(b"just some text, not media"), "a.txt"),
                                         "category": "other"}, content_type="multipart/form-data")
    _assert_problem(r, 415, "unsupported-media-type")
    assert _stored(app)["reports"] == 0


def test_reports_sha256_mismatch_400(app, client):
    _assert_problem(_report_file(client, sha256="ab" * 32), 400, "sha256-mismatch")
    assert _stored(app) == {"reports": 0, "items": 0, "audit": 0, "files": 0}


def test_reports_plain_text_body_415(client):
    _assert_problem(client.post("/v1/reports", data="category=other", content_type="text/plain"), 415,
                    "unsupported-content-type")


def test_reports_json_not_object_400(client):
    _assert_problem(client.post("/v1/reports", data="[1,2]", content_type="application/json"), 400, "invalid-json")
    _assert_problem(client.post("/v1/reports", data="{nope", content_type="application/json"), 400, "invalid-json")


def test_reports_rate_limited_per_client_429(tmp_path):
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "data"), "REPORT_RATE_LIMIT": "3 per minute"})
    client = app.test_client()
    codes = [_report_file(client).status_code for _ in range(4)]
    assert codes == [201, 201, 201, 429]
    other = app.test_client()
    r = other.post("/v1/reports", json={"category": "other"}, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert r.status_code == 400  # a different client still has its allowance (and is refused only for missing media)
    _assert_problem(_report_file(client), 429, "too-many-requests")


def test_reports_queue_api_without_session_401(client):
    _assert_problem(client.get("/v1/reports"), 401, "unauthorized")


def test_reports_secret_key_generated_and_persisted(tmp_path):
    data = tmp_path / "data"
    first = create_app({"TESTING": True, "DATA_DIR": str(data)}).config["SECRET_KEY"]
    again = create_app({"TESTING": True, "DATA_DIR": str(data)}).config["SECRET_KEY"]
    assert first == again and len(first) == 64
    assert (data / "secret_key").stat().st_mode & 0o777 == 0o600
    configured = create_app({"TESTING": True, "DATA_DIR": str(data), "SECRET_KEY": "from-config"})
    assert configured.config["SECRET_KEY"] == "from-config"


# -- durability: SIGKILL a real gunicorn server in the middle of a stream of reports


def _start_server(data_dir: Path, port: int) -> subprocess.Popen:
    return start_gunicorn(port, {"VERIFY_DATA_DIR": str(data_dir), "VERIFY_REPORT_RATE_LIMIT": "1000000 per minute"})


def test_reports_sigkill_mid_stream_every_acknowledged_report_survives(tmp_path):
    data_dir, port = tmp_path / "data", free_port()
    server = _start_server(data_dir, port)
    kill_after, senders = 60, 4
    acked: list[tuple[str, str]] = []
    sent = [0]
    lock, enough, stop = threading.Lock(), threading.Event(), threading.Event()
    try:
        boundary = "verityboundary"
        photo = fixture_path(PHOTO).read_bytes()
        first = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"category\"\r\n\r\nsynthetic\r\n"
                 f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\n"
                 f"Content-Type: image/jpeg\r\n\r\n").encode() + photo + f"\r\n--{boundary}--\r\n".encode()
        status, body = http_request(port, "POST", "/v1/reports", first,
                             {"Content-Type": f"multipart/form-data; boundary={boundary}"})
        assert status == 201
        sha = json.loads(body)["sha256"]

        def send(worker: int) -> None:
            n = 0
            while not stop.is_set():
                payload = json.dumps({"sha256": sha, "category": "synthetic", "text": f"sender {worker} #{n}"})
                with lock:
                    sent[0] += 1
                try:
                    status, body = http_request(port, "POST", "/v1/reports", payload.encode(),
                                         {"Content-Type": "application/json"})
                except OSError:
                    return  # the server is gone: this request was never acknowledged
                if status == 201:
                    reply = json.loads(body)
                    with lock:
                        acked.append((reply["id"], reply["receipt"]))
                        if len(acked) >= kill_after:
                            enough.set()
                n += 1

        threads = [threading.Thread(target=send, args=(i,)) for i in range(senders)]
        for t in threads:
            t.start()
        assert enough.wait(300), "the server acknowledged too few reports"
        os.killpg(server.pid, signal.SIGKILL)  # master and workers at once, requests still in flight
        server.wait()
        stop.set()
        for t in threads:
            t.join(60)
        acknowledged = list(acked)
    finally:
        stop.set()
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()

    server = _start_server(data_dir, port)
    try:
        found = 0
        for report_id, receipt in acknowledged:
            status, body = http_request(port, "GET", f"/v1/reports/{report_id}?receipt={receipt}")
            found += status == 200 and json.loads(body)["id"] == report_id
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
    from server.audit import AuditLog
    from server.storage import SQLiteStorage

    storage = SQLiteStorage(data_dir / "verity.sqlite3")
    in_db = storage.connect().execute("SELECT COUNT(*) FROM reports").fetchone()[0] - 1
    chain = AuditLog(storage).verify()
    print(f"\ndurability: sent {sent[0]}, acknowledged {len(acknowledged)}, found after restart {found} "
          f"(stored in total: {in_db}); audit chain ok={chain.ok} over {chain.entries} entries")
    assert len(acknowledged) >= kill_after
    assert found == len(acknowledged)
    assert in_db >= found
    assert chain.ok


def test_reports_per_client_storage_quota_429(tmp_path, database_url):
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "d"), "DATABASE_URL": database_url,
                      "LOAD_MODELS": False, "REPORT_CLIENT_QUOTA_MB": 0.3})
    client = app.test_client()
    sizes = {name: len(fixture_path(name).read_bytes()) for name in ("photos/wiki_035.jpg", "photos/wiki_042.jpg")}
    assert all(size < 0.3 * 1024 * 1024 for size in sizes.values()) and sum(sizes.values()) > 0.3 * 1024 * 1024
    first = _report_file(client, "photos/wiki_035.jpg")
    second = _report_file(client, "photos/wiki_042.jpg")
    other = client.post("/v1/reports", data={"file": (BytesIO(fixture_path("photos/wiki_042.jpg").read_bytes()), "m.jpg"),
                                             "category": "synthetic"}, content_type="multipart/form-data",
                        environ_base={"REMOTE_ADDR": "203.0.113.7"})
    app.extensions["verify"].storage.close()
    assert first.status_code == 201
    assert second.status_code == 429 and second.get_json()["type"].endswith("/report-quota-exceeded")
    assert int(second.headers["Retry-After"]) > 0
    assert other.status_code == 201


def test_reports_refused_report_leaves_no_media_file(app, client, tmp_path):
    r = _report_file(client, "photos/wiki_035.jpg", source_url="https://example.org/a\x00b")
    assert r.status_code == 400
    assert not [p for p in (tmp_path / "data" / "media").rglob("*") if p.is_file()]
