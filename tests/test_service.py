"""The one verification service (server/service.py) and the one ingestion path (server/refutations/ingest.py):
cache policy, damaged files, audit of everything that changes what users are told, and the migration of old hashes."""

from __future__ import annotations

import hashlib
import io
import json
import threading
from pathlib import Path

import numpy as np
import pytest

from media_fixtures import fixture_path
from server import create_app
from server.storage import Refutation, RefutedMedia
from server.verify.image_hashing import hamming
from server.verify.refutation_index import describe_original

ENGINES = ("sqlite", "postgresql")
FIREFLY = "c2pa/adobe_firefly_2023_butterfly.jpg"


def _verify(client, name: str, data: bytes | None = None):
    return client.post("/v1/verify", data=data if data is not None else fixture_path(name).read_bytes(),
                       content_type="application/octet-stream")


def test_service_verdict_with_timed_out_check_is_answered_but_never_served_again(tmp_path, monkeypatch):
    """The Firefly image verified while its C2PA check times out answers `unknown` once, never forever."""
    from server import verify as registry

    release = threading.Event()
    real = registry.CHECKS["c2pa_manifest"]

    def slow(media, ctx):
        release.wait(5)
        return real(media, ctx)

    # only the two metadata checks run: no model may overrun the short budget on a busy host
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "CHECK_TIMEOUT_S": 1.5, "LOAD_MODELS": False,
                      "CHECKS": "c2pa_manifest,metadata_labels"})
    client = app.test_client()
    monkeypatch.setitem(registry.CHECKS, "c2pa_manifest", slow)
    try:
        first = _verify(client, FIREFLY)
    finally:
        release.set()
    body = first.get_json()
    assert first.status_code == 200 and body["verdict"]["label"] != "synthetic"
    assert {c["check"]: c["outcome"] for c in body["checks"]}["c2pa_manifest"] == "error"
    assert client.get(f"/v1/verdicts/{body['sha256']}").status_code == 404  # not cached: the client uploads again
    monkeypatch.setitem(registry.CHECKS, "c2pa_manifest", real)
    second = _verify(client, FIREFLY)
    assert second.headers["X-Verity-Cache"] == "miss" and second.get_json()["verdict"]["label"] == "synthetic"
    third = _verify(client, FIREFLY)
    assert third.headers["X-Verity-Cache"] == "hit" and third.get_json()["verdict"]["label"] == "synthetic"


def test_service_error_verdict_cached_by_an_earlier_version_is_stale(app, client):
    state = app.extensions["verify"]
    sha = hashlib.sha256(fixture_path(FIREFLY).read_bytes()).hexdigest()
    stale = {"sha256": sha, "media_type": "image/jpeg", "verdict": {"label": "unknown", "summary": "", "reasons": []},
             "checks": [{"check": "c2pa_manifest", "outcome": "error", "summary": "timeout", "score": None,
                         "evidence": {"error": "timeout"}, "signal": None}], "refutation": None}
    state.storage.put_verdict(sha, state.pipeline, stale, state.verdicts.generation().refuted)
    assert client.get(f"/v1/verdicts/{sha}").status_code == 404
    assert _verify(client, FIREFLY).get_json()["verdict"]["label"] == "synthetic"


@pytest.mark.parametrize("name", ["video/c2pa/made_signed_es256_composite_ai_speech.mp4",
                                  "c2pa/testsigner_algorithmic_media.mp3"])
def test_service_signed_clip_damaged_after_signing_keeps_its_c2pa_verdict_200(client, name):
    """Media data cut after signing: FFmpeg decodes only part, C2PA still reads the manifest (and the hash fails)."""
    data = fixture_path(name).read_bytes()
    r = _verify(client, name, data[: int(len(data) * 0.6)])
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    checks = {c["check"]: c for c in body["checks"]}
    assert checks["c2pa_manifest"]["outcome"] == "detected"
    assert body["verdict"]["label"] in ("provenance_invalid", "synthetic")
    damaged = [reason for reason in body["verdict"]["reasons"] if reason["signal"] == "damaged"]
    assert damaged and "truncated or damaged" in damaged[0]["text"] and "damaged" in body["verdict"]["summary"]


def test_service_partly_decodable_clip_without_declarations_200_unknown_with_damage(client):
    body = _verify(client, "video/bad/truncated_40pct.mp4").get_json()
    assert body["verdict"]["label"] == "unknown"
    assert any(reason["signal"] == "damaged" for reason in body["verdict"]["reasons"])


def test_service_nothing_readable_still_422(client):
    r = _verify(client, "video/bad/corrupt_moov.mp4")
    assert r.status_code == 422 and r.get_json()["type"].endswith("/undecodable-media")


def test_ingest_api_and_import_refutations_are_audited(app, client, tmp_path):
    app.config["REFUTATION_TOKEN"] = "secret"
    photo = fixture_path("photos/deb_mate_Dune.jpg").read_bytes()
    r = client.post("/v1/refutations", data={"refutation": json.dumps({"claim": "c", "rating": "False",
                                                                        "fact_checker": "FC"}),
                                              "file": (io.BytesIO(photo), "a.jpg")},
                    headers={"Authorization": "Bearer secret"}, content_type="multipart/form-data")
    assert r.status_code == 201
    from server.refutations.claims import import_document

    (tmp_path / "b.jpg").write_bytes(fixture_path("photos/budgie_casa-mila.jpg").read_bytes())
    doc = {"@context": "https://schema.org", "@type": "ClaimReview", "claimReviewed": "d", "url": "https://fc/1",
           "author": {"@type": "Organization", "name": "FC"}, "reviewRating": {"@type": "Rating", "alternateName": "False"},
           "itemReviewed": {"@type": "Claim", "appearance": {"@type": "ImageObject", "contentUrl": "b.jpg"}}}
    state = app.extensions["verify"]
    ids = import_document(doc, lambda url: (tmp_path / url).read_bytes(), state.ingest, actor="cli:test").ids
    entries = app.extensions["verity_audit"].entries(kind="refutation")
    assert [(e.actor, e.data["source"]) for e in entries] == [("api:refutation-token", "api"), ("cli:test", "import")]
    assert entries[1].subject == f"refutation:{ids[0]}" and "pdq" in entries[1].data["media"][0]["hashes"]


def test_service_job_verification_is_recorded_and_audited(tmp_path):
    import time

    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "JOB_MIN_DURATION_S": 1, "LOAD_MODELS": False})
    client = app.test_client()
    r = _verify(client, "audio/match/originals/m01_hungarian_dance5_000-012.mp3")
    assert r.status_code == 202
    deadline = time.monotonic() + 120
    while (job := client.get(r.headers["Location"]).get_json())["status"] not in ("done", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert job["status"] == "done"
    entries = app.extensions["verity_audit"].entries(kind="verification")
    assert [(e.actor, e.subject) for e in entries] == [("job", f"sha256:{job['sha256']}")]
    assert app.extensions["verify"].storage.records(job["sha256"])


def _old_review_pdq(data: bytes) -> str:
    """The review UI's old PDQ encoding (bits packed first-bit-first), as stored before the single path."""
    import pdqhash
    from PIL import Image

    bits, _ = pdqhash.compute(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex()


@pytest.mark.parametrize("bytes_kept", [True, False])
def test_ingest_review_refutations_made_before_the_single_path_are_rehashed(tmp_path, database_url, bytes_kept):
    """Migration 7: refutations the review UI made with its own PDQ are rehashed from the stored bytes (or, without
    them, at least put in the one bit order), so edited copies match them as they match imported ones."""
    photo = fixture_path("photos/deb_mate_Dune.jpg").read_bytes()
    sha = hashlib.sha256(photo).hexdigest()
    config = {"TESTING": True, "DATA_DIR": str(tmp_path), "DATABASE_URL": database_url, "LOAD_MODELS": False}
    app = create_app(config)
    storage = app.extensions["verify"].storage
    if bytes_kept:  # where the report store keeps reported bytes
        path = Path(tmp_path, "media", sha[:2], sha)
        path.parent.mkdir(parents=True)
        path.write_bytes(photo)
    old = _old_review_pdq(photo)
    storage.add_refutation(Refutation(0, "claim", "False", "Verity review", extra={"source": "verity-review"}),
                           [RefutedMedia(0, 0, sha, "image/jpeg", None, None, {"pdq": [old], "pdq_quality": 100},
                                         None)])
    with storage.transaction() as conn:  # as migration 7 marks rows made by the review UI (before 11's triggers)
        if storage.dialect == "postgresql":
            conn.execute("ALTER TABLE refuted_media DISABLE TRIGGER USER")
            conn.execute("UPDATE refuted_media SET hash_version = 0")
            conn.execute("ALTER TABLE refuted_media ENABLE TRIGGER USER")
        else:
            guard = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'refuted_media_no_update'").fetchone()[0]
            conn.execute("DROP TRIGGER refuted_media_no_update")
            conn.execute("UPDATE refuted_media SET hash_version = 0")
            conn.execute(guard)
    storage.close()

    app = create_app(config)  # start-up rehashes
    state = app.extensions["verify"]
    [media] = state.storage.refuted_media(sha256=sha)
    _, imported = describe_original(photo, state.settings.limits)
    if bytes_kept:
        assert media.hashes == imported.hashes
    else:
        # the same bits in the one order: a few bits from the full-picture hash (computed there at 512 px), where
        # the old order was more than 100 bits away
        full = next(h["hash"] for h in imported.hashes["pdq"] if h["region"] == "full")
        [reordered] = media.hashes["pdq"]
        assert reordered["region"] == "full" and hamming(reordered["hash"], full) <= 16 < hamming(old, full)
    assert state.storage.media_to_rehash() == []
    from PIL import Image

    img = Image.open(io.BytesIO(photo)).convert("RGB")
    copy = io.BytesIO()
    img.resize((img.width // 2, img.height // 2)).save(copy, "JPEG", quality=60)
    found = app.test_client().post("/v1/verify", data=copy.getvalue(), content_type="image/jpeg").get_json()
    assert found["refutation"] is not None
    assert app.extensions["verity_audit"].entries(kind="refutation_rehash")[0].data["from_bytes"] is bytes_kept
    state.storage.close()
