"""The reviewer UI through the Flask test client: sign-in, queue, item, decisions, CSRF and throttling."""

from __future__ import annotations

import io
import re
import sys
from io import BytesIO

import pytest

from buildtasks import users as users_cli
from media_fixtures import fixture_path
from server import create_app
from server.reports.accounts import check_password
from server.verify.refutation_index import describe_original

ENGINES = ("sqlite", "postgresql")  # tests using the app run on both storage engines

PASSWORD = "a long reviewer password"
PHOTO = "photos/deb_mate_Dune.jpg"


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def _sign_in(client, name: str = "rita", password: str = PASSWORD):
    page = client.get("/review/login")
    return client.post("/review/login", data={"csrf": _csrf(page.get_data(as_text=True)), "name": name,
                                              "password": password})


def _report(client, name: str = PHOTO, category: str = "synthetic", text: str = "", **env) -> dict:
    r = client.post("/v1/reports", data={"file": (BytesIO(fixture_path(name).read_bytes()), "a.jpg"),
                                         "category": category, "text": text, "source_url": "https://example.org/a.jpg"},
                    content_type="multipart/form-data", environ_base=env)
    assert r.status_code == 201
    return r.json


@pytest.fixture
def reviewer(app):
    app.extensions["verity_reports"].accounts.add_user("rita", "reviewer", PASSWORD)


def _counts(app) -> tuple[int, int]:
    conn = app.extensions["verify"].storage.connect()
    return (conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0],
            conn.execute("SELECT COUNT(*) FROM refutations").fetchone()[0])


def test_review_queue_without_session_redirects_to_login(client):
    r = client.get("/review/")
    assert r.status_code == 302 and r.headers["Location"].startswith("/review/login")
    assert client.get("/review/items/1").status_code == 302
    assert client.get("/review/media/" + "a" * 64).status_code == 302


def test_review_sign_in_sets_strict_httponly_cookie_302(client, reviewer):
    r = _sign_in(client)
    assert r.status_code == 302 and r.headers["Location"] == "/review/"
    cookie = next(c for c in r.headers.getlist("Set-Cookie") if c.startswith("verity_review="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie  # http on loopback
    assert client.get("/review/").status_code == 200


def test_review_sign_in_not_loopback_secure_cookie(app, reviewer):
    client = app.test_client()
    page = client.get("/review/login", base_url="http://review.example.org")
    r = client.post("/review/login", base_url="http://review.example.org",
                    data={"csrf": _csrf(page.get_data(as_text=True)), "name": "rita", "password": PASSWORD})
    cookie = next(c for c in r.headers.getlist("Set-Cookie") if c.startswith("verity_review="))
    assert "Secure" in cookie


def test_review_wrong_password_401(app, client, reviewer):
    r = _sign_in(client, password="not the password")
    assert r.status_code == 401
    assert client.get("/review/").status_code == 302
    assert [e.kind for e in app.extensions["verity_audit"].entries()][-1] == "signin.failure"


def test_review_login_without_csrf_403(client, reviewer):
    r = client.post("/review/login", data={"name": "rita", "password": PASSWORD})
    assert r.status_code == 403
    assert client.get("/review/").status_code == 302


def test_review_login_throttled_after_failures_429(tmp_path):
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "d"), "LOGIN_MAX_FAILURES": 3})
    app.extensions["verity_reports"].accounts.add_user("rita", "reviewer", PASSWORD)
    client = app.test_client()
    assert [_sign_in(client, password="wrong").status_code for _ in range(3)] == [401, 401, 401]
    assert _sign_in(client).status_code == 429  # even the right password waits out the window


def test_review_login_rate_limited_per_client_429(tmp_path):
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "d"), "LOGIN_RATE_LIMIT": "2 per minute"})
    client = app.test_client()
    codes = [_sign_in(client, name=f"user{i}", password="wrong").status_code for i in range(3)]
    assert codes == [401, 401, 429]


def test_review_queue_ordered_by_count_then_recency_200(client, reviewer):
    once = _report(client, "photos/deb_plasma_Kite.jpg")
    twice = _report(client)
    _report(client)
    latest = _report(client, "photos/deb_mate_Wood.jpg", category="manipulated")
    _sign_in(client)
    html = client.get("/review/").get_data(as_text=True)
    order = re.findall(r'data-sha256="([0-9a-f]{64})"', html)
    assert order == [twice["sha256"], latest["sha256"], once["sha256"]]
    html = client.get("/review/?category=manipulated").get_data(as_text=True)
    assert re.findall(r'data-sha256="([0-9a-f]{64})"', html) == [latest["sha256"]]
    html = client.get("/review/?sort=recent").get_data(as_text=True)
    assert re.findall(r'data-sha256="([0-9a-f]{64})"', html)[0] == latest["sha256"]
    assert client.get("/v1/reports").json["items"][0]["sha256"] == twice["sha256"]


def test_review_item_shows_media_evidence_reports_and_duplicates_200(app, client, reviewer):
    first = _report(client, text="reporter one says <b>fake</b>")
    _report(client, text="reporter two agrees", REMOTE_ADDR="10.1.1.1")
    _report(client, "refutation/variants/" + _variant_name(), text="a resized copy")
    _sign_in(client)
    item_id = app.extensions["verity_reports"].store.queue()[0]["id"]
    html = client.get(f"/review/items/{item_id}").get_data(as_text=True)
    assert f"/review/media/{first['sha256']}" in html
    assert "c2pa_manifest" in html  # every check's evidence from the verdict
    assert "reporter one says &lt;b&gt;fake&lt;/b&gt;" in html and "reporter two agrees" in html
    media = client.get(f"/review/media/{first['sha256']}")
    assert media.status_code == 200 and media.mimetype == "image/jpeg"
    assert "sandbox" in media.headers["Content-Security-Policy"]
    assert media.get_data()[:3] == b"\xff\xd8\xff"
    media.close()


def _variant_name() -> str:
    return next(p.name for p in sorted((fixture_path("refutation") / "variants").glob("*resize_0.5x*")))


def test_review_item_lists_pdq_near_duplicate(app, client, reviewer):
    variant = _variant_name()  # <original stem>__resize_0.5x.jpg
    a = _report(client, "refutation/originals/" + variant.split("__")[0] + ".jpg")
    b = _report(client, "refutation/variants/" + variant)
    _sign_in(client)
    store = app.extensions["verity_reports"].store
    item = next(i for i in store.queue() if i["sha256"] == b["sha256"])
    dups = store.near_duplicates(item)
    assert [d["sha256"] for d in dups] == [a["sha256"]] and dups[0]["method"] == "pdq"


def test_review_refute_creates_refutation_with_sha256_and_pdq_302(app, client, reviewer):
    rep = _report(client)
    state = app.extensions["verify"]
    client.post("/v1/verify", data=fixture_path(PHOTO).read_bytes(), content_type="image/jpeg")
    assert state.verdicts.get(rep["sha256"]) is not None
    _sign_in(client)
    page = client.get("/review/items/1").get_data(as_text=True)
    r = client.post("/review/items/1/decide", data={
        "csrf": _csrf(page), "action": "refute", "claim": "Shows the flood of 2026", "rating": "Missing context",
        "explanation": "Taken in 2019.", "original_context": "https://example.org/original", "note": "checked EXIF"})
    assert r.status_code == 302
    media = state.storage.refuted_media(sha256=rep["sha256"])
    # the one ingestion path: the same hash family an imported refutation of these bytes gets
    _, imported = describe_original(fixture_path(PHOTO).read_bytes(), state.settings.limits)
    assert len(media) == 1 and media[0].hashes == imported.hashes
    ref = state.storage.get_refutation(media[0].refutation_id)
    assert (ref.claim, ref.rating, ref.original_context) == ("Shows the flood of 2026", "Missing context",
                                                             "https://example.org/original")
    again = client.post("/v1/verify", data=fixture_path(PHOTO).read_bytes(), content_type="image/jpeg").get_json()
    assert again["refutation"]["id"] == ref.id  # the cached verdict does not hide the new refutation
    status = client.get(f"/v1/reports/{rep['id']}?receipt={rep['receipt']}").json
    assert status["status"] == "refuted" and status["refutation"]["id"] == ref.id
    assert "checked EXIF" not in str(status)  # the reviewer's note is internal
    html = client.get("/review/items/1").get_data(as_text=True)
    assert "Shows the flood of 2026" in html and 'id="refute-form"' not in html
    assert app.extensions["verity_audit"].entries(kind="decision")[0].data["sha256"] == rep["sha256"]
    refuted = app.extensions["verity_audit"].entries(kind="refutation")
    assert [(e.actor, e.subject, e.data["source"]) for e in refuted] == [("reviewer:rita", f"refutation:{ref.id}",
                                                                          "review")]


def test_review_mark_synthetic_302(app, client, reviewer):
    _report(client)
    _sign_in(client)
    page = client.get("/review/items/1").get_data(as_text=True)
    r = client.post("/review/items/1/decide", data={"csrf": _csrf(page), "action": "synthetic", "note": "SynthID"})
    assert r.status_code == 302
    assert app.extensions["verity_reports"].store.item(1)["status"] == "synthetic"
    assert _counts(app) == (1, 1)


def test_review_dismiss_302(app, client, reviewer):
    _report(client)
    _sign_in(client)
    page = client.get("/review/items/1").get_data(as_text=True)
    assert client.post("/review/items/1/decide", data={"csrf": _csrf(page), "action": "dismiss",
                                                       "note": "a real photo"}).status_code == 302
    assert app.extensions["verity_reports"].store.item(1)["status"] == "dismissed"
    assert _counts(app) == (1, 0)
    again = client.post("/review/items/1/decide", data={"csrf": _csrf(page), "action": "dismiss", "note": "again"})
    assert again.status_code == 409 and _counts(app) == (1, 0)


@pytest.mark.parametrize(("form", "message"), [
    ({"action": "dismiss", "note": "  "}, "Write a note"),
    ({"action": "refute", "note": "n", "rating": "False"}, "needs the claim"),
    ({"action": "refute", "note": "n", "claim": "c", "rating": "False", "original_context": "ftp://x"}, "http(s)"),
    ({"action": "delete", "note": "n"}, "Unknown action"),
])
def test_review_decide_bad_form_400_nothing_stored(app, client, reviewer, form, message):
    _report(client)
    _sign_in(client)
    page = client.get("/review/items/1").get_data(as_text=True)
    r = client.post("/review/items/1/decide", data={"csrf": _csrf(page), **form})
    assert r.status_code == 400 and message in r.get_data(as_text=True)
    assert _counts(app) == (0, 0)


def test_review_decide_wrong_csrf_403(app, client, reviewer):
    _report(client)
    _sign_in(client)
    r = client.post("/review/items/1/decide", data={"csrf": "forged", "action": "dismiss", "note": "x"})
    assert r.status_code == 403 and _counts(app) == (0, 0)
    r = client.post("/review/items/1/decide", data={"action": "dismiss", "note": "x"})
    assert r.status_code == 403 and _counts(app) == (0, 0)


def test_review_replayed_csrf_after_sign_out_403(app, client, reviewer):
    _report(client)
    signed = _sign_in(client)
    cookie = next(c for c in signed.headers.getlist("Set-Cookie") if c.startswith("verity_review="))
    session_value = cookie.split(";")[0].split("=", 1)[1]
    token = _csrf(client.get("/review/items/1").get_data(as_text=True))
    assert client.post("/review/logout", data={"csrf": token}).status_code == 302
    # Replay both the old cookie and the old token, as an attacker holding a copy of them would.
    client.set_cookie("verity_review", session_value, path="/")
    r = client.post("/review/items/1/decide", data={"csrf": token, "action": "dismiss", "note": "replayed"})
    assert r.status_code == 403 and _counts(app) == (0, 0)
    assert client.get("/v1/reports").status_code == 401


def test_review_chinese_pages_200(client, reviewer):
    _report(client)
    assert "登录" in client.get("/review/login?lang=zh").get_data(as_text=True)
    _sign_in(client)
    html = client.get("/review/").get_data(as_text=True)
    assert "举报队列" in html and 'lang="zh-Hans"' in html  # the language choice is kept in a cookie
    assert "辟谣" in client.get("/review/items/1").get_data(as_text=True)
    assert "Report queue" in client.get("/review/?lang=en").get_data(as_text=True)


def test_review_pages_send_security_headers(client):
    r = client.get("/review/login")
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Frame-Options"] == "DENY" and r.headers["Cache-Control"] == "no-store"


def test_review_users_cli_add_with_password_stdin(app, monkeypatch, capsys):
    monkeypatch.setenv("VERIFY_DATA_DIR", str(app.extensions["verify"].settings.data_dir))
    monkeypatch.setenv("VERIFY_DATABASE_URL", app.config["DATABASE_URL"])
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    assert users_cli.main(["add", "carol", "--role", "admin", "--password-stdin"]) == 0
    stored = app.extensions["verify"].storage.connect().execute(
        "SELECT role, password_hash FROM users WHERE name = 'carol'").fetchone()
    assert stored["role"] == "admin" and stored["password_hash"].startswith("scrypt$")
    assert PASSWORD not in stored["password_hash"] and check_password(PASSWORD, stored["password_hash"])
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    assert users_cli.main(["add", "dave", "--role", "reviewer", "--password-stdin"]) == 1
    assert users_cli.main(["disable", "carol"]) == 0
    kinds = [e.kind for e in app.extensions["verity_audit"].entries()]
    assert kinds == ["account.add", "account.disable"]
    capsys.readouterr()


def test_review_disabled_user_session_ends(app, client, reviewer):
    _sign_in(client)
    assert client.get("/review/").status_code == 200
    app.extensions["verity_reports"].accounts.set_disabled("rita", True)
    assert client.get("/review/").status_code == 302
    assert _sign_in(client).status_code == 401


def test_review_item_in_chinese_renders_reasons_from_codes_keeps_english_original(app, client, reviewer):
    """The review UI speaks the reviewer's language: reasons and check names from the API's codes (named once, in
    the extension's locale files), the server's English sentences kept as the original."""
    rep = _report(client, "c2pa/adobe_firefly_2023_butterfly.jpg")
    client.post("/v1/verify", data=fixture_path("c2pa/adobe_firefly_2023_butterfly.jpg").read_bytes(),
                content_type="image/jpeg")
    _sign_in(client)
    html = client.get(f"/review/items/1?lang=zh").get_data(as_text=True)
    assert rep["sha256"] in html
    assert "C2PA 内容凭证: 声明为 AI 生成或 AI 编辑" in html  # check and signal in Chinese
    assert "服务器原文（英文）" in html and 'lang="en"' in html and "Declared AI-generated" in html
    english = client.get("/review/items/1?lang=en").get_data(as_text=True)
    assert "C2PA 内容凭证" not in english and "Declared AI-generated" in english
