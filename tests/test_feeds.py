"""Refutations that arrive by themselves: feed sync against real local HTTP servers (good, changing, broken, huge,
slow), Verity-to-Verity sync over real HTTP with a client key, the HMA / ThreatExchange hash-bank round trip, and
client keys (missing, wrong, revoked, per-key rate limit, named in audit entries and records)."""

from __future__ import annotations

import io
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from buildtasks import feeds as feeds_cli
from buildtasks import keys as keys_cli
from media_fixtures import FIXTURES
from server import create_app
from server.keys import ApiKeys, keys_required
from server.refutations.exchange import export_bank, import_bank
from server.refutations.feeds import FeedScheduler, FeedStore, FeedSync, parse_every
from server.verify.media import load_media
from server.verify.types import Limits

ENGINES = ("sqlite", "postgresql")  # the tests that take `database_url` run on both storage engines

ORIGINALS = FIXTURES / "refutation" / "originals"
VARIANTS = FIXTURES / "refutation" / "variants"
IMAGE_A = "budgie_oakland-zoo-otters.jpg"
IMAGE_B = "deb_mate_Aqua.jpg"
IMAGE_C = "budgie_tea-gardens.jpg"


@dataclass
class Route:
    body: bytes
    status: int = 200
    content_type: str = "application/ld+json"
    etag: str | None = None
    delay_s: float = 0.0
    declared_length: int | None = None


@dataclass
class Site:
    """A local HTTP server whose routes a test changes between syncs; it answers conditional GETs by ETag."""

    port: int = 0
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def json(self, path: str, doc: Any, **kw: Any) -> str:
        body = json.dumps(doc).encode()
        self.routes[path] = Route(body, etag='"' + str(abs(hash(body))) + '"', **kw)
        return self.url(path)

    def hits(self, prefix: str) -> int:
        return sum(1 for p, _ in self.requests if p.startswith(prefix))


@pytest.fixture
def site() -> Iterator[Site]:
    state = Site()
    for name in (IMAGE_A, IMAGE_B, IMAGE_C):
        state.routes[f"/media/{name}"] = Route((ORIGINALS / name).read_bytes(), content_type="image/jpeg")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            state.requests.append((self.path, dict(self.headers)))
            route = state.routes.get(self.path)
            if route is None:
                self.send_error(404)
                return
            if route.delay_s:
                time.sleep(route.delay_s)
            if route.etag and self.headers.get("If-None-Match") == route.etag:
                self.send_response(304)
                self.send_header("ETag", route.etag)
                self.end_headers()
                return
            self.send_response(route.status)
            self.send_header("Content-Type", route.content_type)
            if route.declared_length != -1:  # -1: no Content-Length, the body ends when the connection closes
                self.send_header("Content-Length", str(route.declared_length or len(route.body)))
            if route.etag:
                self.send_header("ETag", route.etag)
            self.end_headers()
            try:
                self.wfile.write(route.body)
            except OSError:
                pass

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


_APPS: list[Any] = []


@pytest.fixture(autouse=True)
def _close_apps() -> Iterator[None]:
    """Each test's apps release their database connections when it ends (PostgreSQL warns about open ones)."""
    yield
    while _APPS:
        _APPS.pop().extensions["verify"].storage.close()


def _app(tmp_path: Path, name: str = "data", **config: Any) -> Any:
    app = _new_app(tmp_path, name, **config)
    _APPS.append(app)
    return app


def _new_app(tmp_path: Path, name: str = "data", **config: Any) -> Any:
    return create_app({"TESTING": True, "DATA_DIR": str(tmp_path / name), "LOAD_MODELS": False,
                       "FETCH_ALLOW_PRIVATE": True, "FEED_TIMEOUT_S": 5, **config})


def _review(site: Site, key: str, image: str | None, rating: str = "False", **extra: Any) -> dict[str, Any]:
    node: dict[str, Any] = {"@context": "https://schema.org", "@type": "ClaimReview",
                            "url": f"https://factcheck.example/{key}", "claimReviewed": f"Claim {key}",
                            "author": {"@type": "Organization", "name": "Example Desk"},
                            "reviewRating": {"@type": "Rating", "alternateName": rating}, **extra}
    if image:
        node["itemReviewed"] = {"@type": "Claim", "appearance": [{"@type": "ImageObject",
                                                                  "contentUrl": site.url(f"/media/{image}")}]}
    return node


def _sync(app: Any, name: str) -> Any:
    state = app.extensions["verify"]
    syncer = FeedSync.from_state(state, app.config)
    return syncer.sync(syncer.store.get(name))


def _match(app: Any, path: Path) -> Any:
    return app.extensions["verify"].ctx.resources["refutations"].match(load_media(path.read_bytes(), Limits()))


def _audit(app: Any, kind: str) -> list[Any]:
    rows = app.extensions["verify"].storage.connect().execute(
        "SELECT actor, subject, data FROM audit_log WHERE kind = ? ORDER BY seq", (kind,)).fetchall()
    return [(r["actor"], r["subject"], json.loads(r["data"])) for r in rows]


# --- feeds --------------------------------------------------------------------------------------------------------------

def test_feed_sync_add_update_retract_audited(tmp_path: Path, site: Site, database_url: str) -> None:
    app = _app(tmp_path, DATABASE_URL=database_url)
    url = site.json("/feed.json", [_review(site, "a", IMAGE_A), _review(site, "b", IMAGE_B)])
    FeedStore(app.extensions["verify"].storage).add("desk", url, parse_every("6h"))

    first = _sync(app, "desk")
    assert (first.added, first.updated, first.withdrawn, first.errors) == (2, 0, 0, [])
    match_a = _match(app, ORIGINALS / IMAGE_A)
    assert match_a is not None and match_a.method == "sha256"
    assert _match(app, VARIANTS / "budgie_oakland-zoo-otters__jpeg_q50.jpg") is not None  # perceptual, not only exact
    old_a = match_a.media.refutation_id

    again = _sync(app, "desk")  # the server answers 304 to the stored ETag
    assert again.not_modified and site.requests[-1][1].get("If-None-Match")

    # the review of A is updated (new rating), B is retracted (gone from the feed)
    site.json("/feed.json", [_review(site, "a", IMAGE_A, rating="Altered photo")])
    third = _sync(app, "desk")
    assert (third.added, third.updated, third.withdrawn, third.errors) == (0, 1, 1, [])
    assert _match(app, ORIGINALS / IMAGE_B) is None
    new_a = _match(app, ORIGINALS / IMAGE_A).media.refutation_id
    storage = app.extensions["verify"].storage
    assert new_a != old_a and storage.get_refutation(new_a).rating == "Altered photo"
    assert storage.withdrawal(old_a).reason.startswith("superseded by refutation")
    withdrawn = _audit(app, "refutation_withdrawn")
    assert [(actor, data["source"]) for actor, _, data in withdrawn] == [("feed:desk", "feed:desk")] * 2
    assert any("retracted" in data["reason"] for _, _, data in withdrawn)
    assert {data["source"] for _, _, data in _audit(app, "refutation")} == {"feed:desk"}

    feed = FeedStore(storage).get("desk")
    assert (feed.items, feed.last_error, feed.errors) == (1, None, 0) and feed.last_ok is not None


def test_feed_broken_huge_slow_record_error_change_nothing(tmp_path: Path, site: Site) -> None:
    app = _app(tmp_path, FEED_MAX_MB=0.05, FEED_TIMEOUT_S=1)
    store = FeedStore(app.extensions["verify"].storage)
    url = site.json("/feed.json", [_review(site, "a", IMAGE_A)])
    store.add("desk", url, 3600)
    assert _sync(app, "desk").added == 1

    cases = {
        "server error": Route(b"oops", status=500, content_type="text/plain"),
        "not json": Route(b"{not json", content_type="application/json"),
        "huge": Route(b"[" + b" " * 200_000 + b"]", content_type="application/json"),
        "huge, undeclared": Route(b"[" + b" " * 200_000 + b"]", content_type="application/json",
                                  declared_length=-1),
        "slow": Route(b"[]", content_type="application/json", delay_s=3),
        "empty now": Route(b"[]", content_type="application/json"),
    }
    for label, route in cases.items():
        site.routes["/feed.json"] = route
        started = time.monotonic()
        result = _sync(app, "desk")
        assert result.errors and result.added == result.withdrawn == 0, label
        assert time.monotonic() - started < 2.5, label  # the total deadline, not the server's pace
        feed = store.get("desk")
        assert feed.last_error and feed.items == 1, label
    assert _match(app, ORIGINALS / IMAGE_A) is not None  # nothing was withdrawn by a broken feed

    # one bad review is named and skipped; the good one still arrives
    bad = _review(site, "bad", IMAGE_B)
    del bad["reviewRating"]
    site.json("/feed.json", [_review(site, "a", IMAGE_A), bad, _review(site, "c", IMAGE_C)])
    result = _sync(app, "desk")
    assert result.added == 1 and len(result.errors) == 1 and "reviewRating" in result.errors[0]
    assert _match(app, ORIGINALS / IMAGE_C) is not None


def test_feed_html_article_and_datafeed_read(tmp_path: Path, site: Site) -> None:
    app = _app(tmp_path)
    store = FeedStore(app.extensions["verify"].storage)
    article = ("<!doctype html><html><head><script type=\"application/ld+json\">"
               + json.dumps(_review(site, "html", IMAGE_A)).replace("</", "<\\/")
               + "</script><script type=\"application/ld+json\">{broken</script></head><body>An article</body></html>")
    site.routes["/article.html"] = Route(article.encode(), content_type="text/html; charset=utf-8")
    store.add("article", site.url("/article.html"), 3600)
    data_feed = {"@context": "https://schema.org", "@type": "DataFeed", "dataFeedElement": [
        {"@type": "DataFeedItem", "item": _review(site, "df", IMAGE_B)}, _review(site, "df2", None)]}
    store.add("datafeed", site.json("/datafeed.json", data_feed), 3600)
    assert _sync(app, "article").added == 1
    assert _sync(app, "datafeed").added == 2
    assert _match(app, ORIGINALS / IMAGE_A) is not None and _match(app, ORIGINALS / IMAGE_B) is not None


def test_feed_private_address_refused_without_allow_private(tmp_path: Path, site: Site) -> None:
    app = _app(tmp_path, FETCH_ALLOW_PRIVATE=False)
    FeedStore(app.extensions["verify"].storage).add("local", site.json("/feed.json", []), 3600)
    result = _sync(app, "local")
    assert result.errors and "private" in result.errors[0] and site.requests == []


def test_feed_scheduler_one_lease_holder_syncs_due_feeds(tmp_path: Path, site: Site, database_url: str) -> None:
    app = _app(tmp_path, DATABASE_URL=database_url)
    state = app.extensions["verify"]
    FeedStore(state.storage).add("desk", site.json("/feed.json", [_review(site, "a", IMAGE_A)]), 3600)
    first, second = (FeedScheduler(FeedSync.from_state(state, app.config)) for _ in range(2))
    assert first.sync.store.acquire_lease(first.holder)
    assert second.run_once() is None  # another process holds the lease
    results = first.run_once()
    assert results is not None and [r.added for r in results] == [1]
    assert first.run_once() == []  # nothing due for an hour; the lease was released and taken again
    assert second.run_once() == []


# --- Verity to Verity -----------------------------------------------------------------------------------------------

@pytest.fixture
def live(tmp_path: Path) -> Iterator[Any]:
    """Start apps as real HTTP servers on loopback: live(app) -> base URL."""
    servers = []

    def start(app: Any) -> str:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server in servers:
        server.shutdown()


def test_verity_to_verity_sync_hash_only_no_media_download(tmp_path: Path, site: Site, live: Any) -> None:
    source = _app(tmp_path, "a", REQUIRE_KEYS="true")
    site.json("/feed.json", [_review(site, n, image) for n, image in (("a", IMAGE_A), ("b", IMAGE_B), ("c", IMAGE_C))])
    FeedStore(source.extensions["verify"].storage).add("desk", site.url("/feed.json"), 3600)
    assert _sync(source, "desk").added == 3
    _, key = ApiKeys(source.extensions["verify"].storage).add("newsroom-b", actor="test")
    base = live(source)

    replica = _app(tmp_path, "b")
    store = FeedStore(replica.extensions["verify"].storage)
    store.add("verity-a", f"{base}/v1/refutations/export?per_page=2", 3600, api_key=key)
    media_hits = site.hits("/media/")
    result = _sync(replica, "verity-a")
    assert (result.added, result.errors) == (3, [])  # two pages, Link rel=next
    assert site.hits("/media/") == media_hits  # hashes only: not one media download
    exact = _match(replica, ORIGINALS / IMAGE_A)
    assert exact is not None and exact.method == "sha256"
    near = _match(replica, VARIANTS / "budgie_oakland-zoo-otters__jpeg_q50.jpg")
    assert near is not None and near.method == "pdq"  # no stored original, so PDQ within the unverified radius
    assert replica.extensions["verify"].storage.get_refutation(exact.media.refutation_id).claim == "Claim a"

    assert _sync(replica, "verity-a").not_modified  # ETag
    # a withdrawal on the source reaches the replica on its next sync
    a_id = _match(source, ORIGINALS / IMAGE_B).media.refutation_id
    source.extensions["verify"].ingest.withdraw(a_id, "wrongful", actor="admin", source="test")
    later = _sync(replica, "verity-a")
    assert later.withdrawn == 1 and _match(replica, ORIGINALS / IMAGE_B) is None

    # without the key, the source refuses
    store.add("no-key", f"{base}/v1/refutations/export", 3600)
    failed = _sync(replica, "no-key")
    assert failed.errors and "401" in failed.errors[0]


def test_verity_to_verity_sync_carries_declared_entries(tmp_path: Path, site: Site, live: Any) -> None:
    """The declared index travels as a second kind of export element: a copy of an image (and of an audio clip) that
    declared itself AI on the source server is `likely_synthetic` on the replica, which never saw the original."""
    from buildtasks.media_edits import platform_audio_copy, platform_copy

    checks = "c2pa_manifest,metadata_labels,debunked_match,declared_match"
    source = _app(tmp_path, "a", CHECKS=checks)
    site.json("/feed.json", [_review(site, "a", IMAGE_A)])
    FeedStore(source.extensions["verify"].storage).add("desk", site.url("/feed.json"), 3600)
    assert _sync(source, "desk").added == 1
    firefly = (FIXTURES / "c2pa" / "adobe_firefly_2023_butterfly.jpg").read_bytes()
    assert source.test_client().post("/v1/verify", data=firefly).get_json()["verdict"]["label"] == "synthetic"
    tts = FIXTURES / "audio" / "c2pa" / "made_signed_es256_piper_tts.wav"  # C2PA trainedAlgorithmicMedia speech
    assert source.test_client().post("/v1/verify", data=tts.read_bytes()).get_json()["verdict"]["label"] == "synthetic"
    base = live(source)
    page = source.test_client().get("/v1/refutations/export?per_page=1&page=3").get_json()
    assert page["verity:total"] == 3 and page["dataFeedElement"][0]["@type"] == "verity:DeclaredMedia"
    assert page["dataFeedElement"][0]["verity:declared"]["hashes"]["chromaprint"]["fp"]  # a clip's fingerprint

    replica = _app(tmp_path, "b", CHECKS=checks)
    FeedStore(replica.extensions["verify"].storage).add("verity-a", f"{base}/v1/refutations/export?per_page=1", 3600)
    result = _sync(replica, "verity-a")
    assert (result.added, result.declared, result.errors) == (1, 2, [])
    body = replica.test_client().post("/v1/verify", data=platform_copy(firefly, 5)[0]).get_json()
    assert body["verdict"]["label"] == "likely_synthetic"
    declared = next(c for c in body["checks"] if c["check"] == "declared_match")["evidence"]["declared"]
    assert declared["origin"] == "feed:verity-a" and declared["declaration"]["by"] == "Adobe Inc."
    body = replica.test_client().post("/v1/verify", data=platform_audio_copy(tts.read_bytes(), 6)[0]).get_json()
    assert body["verdict"]["label"] == "likely_synthetic"  # a stripped MP3/AAC copy of the declared speech
    assert _sync(replica, "verity-a").not_modified


def test_verity_export_paged_etag_304(tmp_path: Path, site: Site) -> None:
    app = _app(tmp_path)
    FeedStore(app.extensions["verify"].storage).add("desk", site.json("/f.json", [_review(site, "a", IMAGE_A),
                                                                                   _review(site, "b", IMAGE_B)]), 60)
    _sync(app, "desk")
    client = app.test_client()
    first = client.get("/v1/refutations/export?per_page=1")
    assert first.status_code == 200 and first.mimetype == "application/ld+json"
    assert first.headers["Link"] == '</v1/refutations/export?page=2&per_page=1>; rel="next"'
    item = first.get_json()["dataFeedElement"][0]
    assert item["@type"] == "ClaimReview" and re.fullmatch(r"[0-9a-f]{64}", item["verity:media"][0]["hashes"]["pdq"][0]["hash"])
    assert client.get("/v1/refutations/export?per_page=1",
                      headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    assert "Link" not in client.get("/v1/refutations/export?page=2&per_page=1").headers
    bad = client.get("/v1/refutations/export?page=0")
    assert bad.status_code == 400 and bad.mimetype == "application/problem+json"


# --- HMA / ThreatExchange ---------------------------------------------------------------------------------------------

def _pdq_by_sha(app: Any) -> dict[str, Any]:
    storage = app.extensions["verify"].storage
    return {m.sha256: m.hashes["pdq"] for m in storage.refuted_media()}


@pytest.mark.parametrize("fmt", ["te", "hma"])
def test_hash_bank_round_trip_by_format(tmp_path: Path, site: Site, fmt: str) -> None:
    bank = _app(tmp_path, "bank")
    FeedStore(bank.extensions["verify"].storage).add("desk", site.json("/f.json", [
        _review(site, n, image) for n, image in (("a", IMAGE_A), ("b", IMAGE_B), ("c", IMAGE_C))]), 60)
    assert _sync(bank, "desk").added == 3
    text = export_bank(bank.extensions["verify"].storage, fmt, "VERITY_TEST")
    if fmt == "te":  # ThreatExchange's signal file: what HMA's local-file exchange reads into a bank
        assert all(re.fullmatch(r"pdq [0-9a-f]{64}", line) for line in text.splitlines())
        assert len(text.splitlines()) == 3
    else:  # per item, the body of HMA's POST /c/bank/<bank>/signal, with quality and content metadata
        doc = json.loads(text)
        assert doc["bank"] == "VERITY_TEST" and len(doc["content"]) == 3
        assert all(set(c["signals"]) == {"pdq"} and 0 <= c["quality"] <= 100 for c in doc["content"])

    other = _app(tmp_path, "other")
    ids = import_bank(text, fmt, other.extensions["verify"].ingest, bank="VERITY_TEST", actor="test")
    assert len(ids) == 3
    if fmt == "hma":  # everything comes back: every region hash with its quality, keyed by the media's sha256
        assert _pdq_by_sha(other) == _pdq_by_sha(bank)
        assert {other.extensions["verify"].storage.get_refutation(i).claim for i in ids} == {"Claim a", "Claim b",
                                                                                            "Claim c"}
    assert export_bank(other.extensions["verify"].storage, "te") == export_bank(bank.extensions["verify"].storage, "te")
    assert _match(other, VARIANTS / "budgie_oakland-zoo-otters__jpeg_q50.jpg") is not None


def test_hash_bank_import_bad_hash_nothing_stored(tmp_path: Path) -> None:
    app = _app(tmp_path)
    from server.refutations.exchange import ExchangeError

    with pytest.raises(ExchangeError, match="line 2"):
        import_bank("pdq " + "a" * 64 + "\npdq xyz\n", "te", app.extensions["verify"].ingest, bank="b", actor="t")
    with pytest.raises(ExchangeError, match="hashes.pdq"):
        import_bank(json.dumps({"content": [{"signals": {"pdq": "a" * 64},
                                             "metadata": {"verity_pdq": [{"region": "full", "hash": "zz"}]}}]}),
                    "hma", app.extensions["verify"].ingest, bank="b", actor="t")
    assert app.extensions["verify"].storage.refuted_media() == []


# --- client keys ----------------------------------------------------------------------------------------------------

def test_keys_missing_wrong_revoked_401_named_in_audit_and_records(tmp_path: Path, database_url: str) -> None:
    app = _app(tmp_path, REQUIRE_KEYS="true", KEY_RATE_LIMIT="1000 per minute", DATABASE_URL=database_url)
    client = app.test_client()
    keys = ApiKeys(app.extensions["verify"].storage)
    _, alice = keys.add("alice", actor="test")
    _, bob = keys.add("bob", actor="test", rate_limit="3 per minute")

    missing = client.get("/v1/checks")
    assert missing.status_code == 401 and missing.get_json()["type"].endswith("/api-key-required")
    wrong = client.get("/v1/checks", headers={"X-Verity-Key": alice[:-2] + "xx"})
    assert wrong.status_code == 401 and wrong.get_json()["type"].endswith("/api-key-invalid")
    assert client.get("/v1/health").status_code == 200  # reachability stays open
    assert client.get("/v1/keys/me", headers={"X-Verity-Key": alice}).get_json() == {"key": "alice", "required": True}

    photo = (ORIGINALS / IMAGE_A).read_bytes()
    verified = client.post("/v1/verify", data={"file": (io.BytesIO(photo), "a.jpg")},
                           headers={"X-Verity-Key": alice}, content_type="multipart/form-data")
    assert verified.status_code == 200
    storage = app.extensions["verify"].storage
    assert storage.connect().execute("SELECT client FROM records").fetchone()[0] == "alice"
    assert [actor for actor, _, _ in _audit(app, "verification")] == ["key:alice"]

    # per-key rate limit: bob's own 3 per minute; alice is not affected
    statuses = [client.get("/v1/checks", headers={"X-Verity-Key": bob}).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert client.get("/v1/checks", headers={"X-Verity-Key": alice}).status_code == 200

    keys.revoke("alice", actor="test")
    revoked = client.get("/v1/checks", headers={"X-Verity-Key": alice})
    assert revoked.status_code == 401 and revoked.get_json()["type"].endswith("/api-key-invalid")
    assert [kind for kind in ("api_key_added", "api_key_revoked") if _audit(app, kind)] == ["api_key_added",
                                                                                            "api_key_revoked"]
    # only a hash is stored
    stored = " ".join(str(tuple(r)) for r in storage.connect().execute("SELECT * FROM api_keys"))
    assert alice not in stored and bob not in stored


def test_keys_required_beyond_loopback_unless_disabled() -> None:
    assert not keys_required({"HOST": "127.0.0.1", "REQUIRE_KEYS": "auto"})
    assert not keys_required({"HOST": "::1", "REQUIRE_KEYS": "auto"})
    assert keys_required({"HOST": "0.0.0.0", "REQUIRE_KEYS": "auto"})
    assert keys_required({"HOST": "", "REQUIRE_KEYS": "auto"})
    assert not keys_required({"HOST": "0.0.0.0", "REQUIRE_KEYS": "false"})
    assert keys_required({"HOST": "127.0.0.1", "REQUIRE_KEYS": "true"})


def test_keys_and_feeds_cli_newsroom_setup(tmp_path: Path, site: Site, monkeypatch: Any, capsys: Any) -> None:
    monkeypatch.setenv("VERIFY_DATA_DIR", str(tmp_path / "cli"))
    monkeypatch.setenv("VERIFY_LOAD_MODELS", "false")
    monkeypatch.setenv("VERIFY_FETCH_ALLOW_PRIVATE", "true")
    assert feeds_cli.main(["add", site.json("/one.json", [_review(site, "a", IMAGE_A)]), "--name", "one",
                           "--every", "6h"]) == 0
    assert feeds_cli.main(["add", site.json("/two.json", [_review(site, "b", IMAGE_B)]), "--name", "two",
                           "--every", "30m"]) == 0
    for person in ("ana", "ben", "chen"):
        assert keys_cli.main(["add", person]) == 0
    assert feeds_cli.main(["sync"]) == 0
    assert keys_cli.main(["revoke", "ben"]) == 0
    capsys.readouterr()
    assert feeds_cli.main(["list"]) == 0 and keys_cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^one\t.*\tevery 6h\tlast sync \d{4}-.*\t1 items\tok$", out, re.M)
    assert re.search(r"^two\t.*\tevery 30m\t.*\t1 items\tok$", out, re.M)
    assert re.search(r"^ben\tvk_\S+\.\.\.\trevoked ", out, re.M) and re.search(r"^chen\tvk_\S+\.\.\.\tactive", out, re.M)
    assert feeds_cli.main(["add", "ftp://x.example/feed", "--name", "bad"]) == 1
    assert feeds_cli.main(["remove", "two", "--withdraw"]) == 0
    assert "withdrew 1 refutations" in capsys.readouterr().out


def test_review_ui_feeds_page_shows_state(tmp_path: Path, site: Site) -> None:
    app = _app(tmp_path)
    FeedStore(app.extensions["verify"].storage).add("desk", site.json("/f.json", [_review(site, "a", IMAGE_A)]), 60)
    site.routes["/broken.json"] = Route(b"{", content_type="application/json")
    FeedStore(app.extensions["verify"].storage).add("broken", site.url("/broken.json"), 60)
    _sync(app, "desk")
    _sync(app, "broken")
    app.extensions["verity_reports"].accounts.add_user("rita", "reviewer", "a long reviewer password")
    client = app.test_client()
    page = client.get("/review/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    client.post("/review/login", data={"csrf": csrf, "name": "rita", "password": "a long reviewer password"})
    html = client.get("/review/feeds").get_data(as_text=True)
    assert 'data-feed="desk"' in html and 'data-feed="broken"' in html
    assert "not JSON" in html and "UTC" in html
