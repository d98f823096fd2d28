"""Storage failures reach the client as problems on both engines: NUL in text (400), a lost database connection
(503, then the next request reconnects)."""

from __future__ import annotations

import io
import json

from media_fixtures import FIXTURES

ENGINES = ("sqlite", "postgresql")
PHOTO = FIXTURES / "photos" / "budgie_beacon-street-sunset.jpg"


def _problem(response, status: int, slug: str) -> None:
    assert response.status_code == status, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["type"].endswith("/" + slug)


def test_storage_errors_nul_in_source_url_400(client):
    response = client.post("/v1/verify", data={"file": (io.BytesIO(PHOTO.read_bytes()), "a.jpg"),
                                               "source_url": "https://example.org/\x00.jpg"},
                           content_type="multipart/form-data")
    _problem(response, 400, "invalid-text")


def test_storage_errors_nul_in_refutation_claim_400_nothing_stored(app, tmp_path):
    app.config["REFUTATION_TOKEN"] = "t0ken"
    client = app.test_client()
    response = client.post("/v1/refutations", data={"refutation": json.dumps({"claim": "a\x00b", "rating": "False",
                                                                                "fact_checker": "x"})},
                           headers={"Authorization": "Bearer t0ken"}, content_type="multipart/form-data")
    _problem(response, 400, "invalid-text")
    assert client.get("/v1/refutations").get_json()["total"] == 0
    _problem(client.get("/v1/refutations?q=a%00b"), 400, "invalid-text")


def test_storage_errors_lost_postgresql_connection_503_then_reconnects(app, client, engine, postgres_server):
    if engine != "postgresql":
        return  # SQLite has no connection to lose
    import psycopg

    assert client.post("/v1/verify", data=PHOTO.read_bytes(), content_type="image/jpeg").status_code == 200
    database = app.config["DATABASE_URL"].rsplit("/", 1)[1]
    with psycopg.connect(postgres_server.admin_url, autocommit=True) as admin:
        killed = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s",
                               (database,)).fetchone()[0]
    assert killed >= 1
    lost = client.get("/v1/refutations")
    _problem(lost, 503, "storage-unavailable")
    detail = lost.get_json()["detail"]
    assert "127.0.0.1" not in detail and "postgres" not in detail.lower()  # no server details for clients
    assert client.get("/v1/refutations").status_code == 200  # a new connection on the next request


def test_storage_errors_id_beyond_64_bits_404(client):
    _problem(client.get("/v1/refutations/99999999999999999999999"), 404, "not-found")
    _problem(client.get("/v1/refutations/1/media/99999999999999999999999"), 404, "not-found")
