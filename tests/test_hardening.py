"""Hardening round two (issue 17): bounded JSON, the queue search, sign-in throttling per client, receipts out of
URLs, trusted proxies and IPv6 rate-limit keys, and the admin role. docs/security.md links each threat here."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from media_fixtures import fixture_path
from server import create_app, jsonio

ENGINES = ("sqlite", "postgresql")  # tests that use `app` run on both storage engines

TOKEN = "hardening-test-token"
PASSWORD = "a long reviewer password"
DEEP = 100_000


def _deep(levels: int = DEEP, open_: str = "[", close: str = "]") -> str:
    return open_ * levels + close * levels


def _problem(response, status: int, slug: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["type"].endswith("/" + slug) and body["status"] == status
    return body


# --- 1. deeply nested JSON is a 400, never a 500 ----------------------------------------------------------------------

@pytest.mark.parametrize("doc", [_deep(), _deep(open_='{"a":', close="}"),
                                 '{"category": "other", "x": ' + _deep() + "}"])
def test_json_reports_deeply_nested_400(client, doc: str) -> None:
    response = client.post("/v1/reports", data=doc, content_type="application/json")
    _problem(response, 400, "invalid-json")


def test_json_refutations_deeply_nested_400_nothing_stored(tmp_path: Path) -> None:
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "d"), "LOAD_MODELS": False,
                      "REFUTATION_TOKEN": TOKEN})
    client = app.test_client()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    doc = '{"@type": "ClaimReview", "claimReviewed": ' + _deep() + "}"
    _problem(client.post("/v1/refutations", data=doc, content_type="application/json", headers=auth), 400,
             "invalid-refutation")
    multipart = client.post("/v1/refutations", headers=auth, content_type="multipart/form-data",
                            data={"refutation": _deep(), "file": (io.BytesIO(b"x"), "a.jpg")})
    _problem(multipart, 400, "invalid-refutation")
    assert client.get("/v1/refutations").get_json()["total"] == 0


def test_json_claims_import_deeply_nested_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from buildtasks import claims

    monkeypatch.setenv("VERIFY_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("VERIFY_LOAD_MODELS", "false")
    path = tmp_path / "deep.jsonld"
    path.write_text('{"@graph": ' + _deep() + "}", encoding="utf-8")
    assert claims.main(["import", str(path)]) == 2
    assert "nests" in capsys.readouterr().err


def test_json_rq_job_payload_deeply_nested_refused(tmp_path: Path, redis_url: str) -> None:
    from rq.exceptions import DeserializationError
    from rq.job import Job

    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "d"), "LOAD_MODELS": False, "JOB_QUEUE": redis_url})
    jobs = app.extensions["verify_jobs"]
    try:
        assert jobs.queue.serializer is jsonio.BoundedJSONSerializer
        job = jobs.queue.enqueue("builtins.print", "0" * 32)
        jobs.redis.hset(job.key, "data", _deep().encode())  # what anyone able to write to Redis could leave there
        fetched = Job.fetch(job.id, connection=jobs.redis, serializer=jobs.queue.serializer)
        with pytest.raises(DeserializationError) as info:
            _ = fetched.args
        assert isinstance(info.value.__cause__, jsonio.JSONInputError)
    finally:
        jobs.close()
        app.extensions["verify"].storage.close()


def test_json_loads_bounds_depth_size_and_ignores_brackets_in_strings() -> None:
    assert jsonio.loads('{"a": "[[[[[[[[[[[[[[[[[[[[", "b": [[1]]}', max_depth=3) == {"a": "[" * 20, "b": [[1]]}
    assert jsonio.nesting_depth(r'["\"[[[", [[]]]') == 3
    with pytest.raises(jsonio.JSONInputError):
        jsonio.loads(_deep(65))
    with pytest.raises(jsonio.JSONInputError):
        jsonio.loads(b"[" + b"1," * 100 + b"1]", max_bytes=100)
    with pytest.raises(jsonio.JSONInputError):
        jsonio.loads('"\\"' * 50_000)  # unterminated strings: the scan stays linear, then the parse refuses it


# --- 9. the queue search escapes wildcards ----------------------------------------------------------------------------

def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def _sign_in(client, name: str = "rita", password: str = PASSWORD, **kwargs):
    page = client.get("/review/login", **kwargs)
    return client.post("/review/login", data={"csrf": _csrf(page.get_data(as_text=True)), "name": name,
                                              "password": password}, **kwargs)


PHOTOS = sorted(p.name for p in fixture_path("photos").glob("*.jpg"))[:3]


def _report(client, photo: str, source_url: str) -> str:
    response = client.post("/v1/reports", content_type="multipart/form-data", data={
        "file": (io.BytesIO(fixture_path("photos/" + photo).read_bytes()), "a.jpg"), "category": "other",
        "source_url": source_url})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()["sha256"]


@pytest.mark.parametrize(("q", "expected"), [("%", ["a"]), ("_", ["a", "b"]), ("e_c", ["b"]), ("50%_off", ["a"]),
                                             ("a%c", []),
                                             ("example", ["a", "b", "c"])])
def test_queue_search_wildcards_literal_200(app, client, q: str, expected: list[str]) -> None:
    shas = {"a": _report(client, PHOTOS[0], "https://example.org/50%_off.jpg"),
            "b": _report(client, PHOTOS[1], "https://example.org/snake_case.jpg"),
            "c": _report(client, PHOTOS[2], "https://example.org/abc.jpg")}
    app.extensions["verity_reports"].accounts.add_user("rita", "reviewer", PASSWORD)
    _sign_in(client)
    response = client.get("/review/", query_string={"q": q})
    assert response.status_code == 200
    found = set(re.findall(r'data-sha256="([0-9a-f]{64})"', response.get_data(as_text=True)))
    assert found == {shas[k] for k in expected}
    # the sha256 prefix search is escaped too: "%" is not a prefix of any hash
    assert app.extensions["verity_reports"].store.queue(q="%") == [
        i for i in app.extensions["verity_reports"].store.queue() if i["sha256"] == shas["a"]]


# --- 7. wrong passwords throttle one client for one account, not the account -----------------------------------------

def test_login_failures_other_client_still_signs_in_302(app, client) -> None:
    accounts = app.extensions["verity_reports"].accounts
    accounts.add_user("rita", "reviewer", PASSWORD)
    attacker = {"environ_base": {"REMOTE_ADDR": "198.51.100.7"}}
    codes = [_sign_in(client, password="wrong password", **attacker).status_code for _ in range(6)]
    assert codes == [401] * 5 + [429]
    assert _sign_in(client, **attacker).status_code == 429  # the guessing client waits out the window
    reviewer = app.test_client()
    assert _sign_in(reviewer, environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 302


def test_login_failures_pruned_after_window(app) -> None:
    accounts = app.extensions["verity_reports"].accounts
    conn = app.extensions["verify"].storage.connect()
    conn.execute("INSERT INTO login_failures (name, client, time) VALUES (?, ?, ?)", ("old", "c", 1.0))
    assert accounts.authenticate("nobody", "wrong password", 5, 900, client="x") is None
    rows = [(r["name"], r["client"]) for r in conn.execute("SELECT name, client FROM login_failures")]
    assert rows == [("nobody", "x")]


# --- 6. trusted proxies and IPv6 rate-limit keys ----------------------------------------------------------------------

def _limited_app(tmp_path: Path, **config):
    return create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "d"), "LOAD_MODELS": False,
                       "API_RATE_LIMIT": "2 per minute", **config})


def _codes(client, requests: list[tuple[str, str | None]]) -> list[int]:
    out = []
    for peer, forwarded in requests:
        headers = {"X-Forwarded-For": forwarded} if forwarded else {}
        out.append(client.get("/v1/checks", headers=headers, environ_base={"REMOTE_ADDR": peer}).status_code)
    return out


def test_proxy_untrusted_forwarded_for_ignored_429(tmp_path: Path) -> None:
    client = _limited_app(tmp_path).test_client()
    # without VERIFY_TRUSTED_PROXIES a client cannot escape its limit by naming other addresses
    assert _codes(client, [("192.0.2.1", "10.0.0.1"), ("192.0.2.1", "10.0.0.2"), ("192.0.2.1", "10.0.0.3")]) == [
        200, 200, 429]


def test_proxy_trusted_clients_limited_apart_spoofing_ignored(tmp_path: Path) -> None:
    client = _limited_app(tmp_path, TRUSTED_PROXIES="10.0.0.0/8, 2001:db8:ffff::1").test_client()
    via_proxy = [("10.1.2.3", "198.51.100.1"), ("10.1.2.3", "198.51.100.1"), ("10.1.2.3", "198.51.100.2"),
                 ("10.1.2.3", "198.51.100.1")]
    assert _codes(client, via_proxy) == [200, 200, 200, 429]
    # a client's own X-Forwarded-For entry (left of what the proxy appended) is not believed
    spoofed = [("10.1.2.3", f"203.0.113.{i}, 198.51.100.9") for i in range(3)]
    assert _codes(client, spoofed) == [200, 200, 429]
    # two trusted hops: the first untrusted address from the right is the client
    assert _codes(client, [("2001:db8:ffff::1", "198.51.100.20, 10.9.9.9")] * 3) == [200, 200, 429]
    # a peer outside the list cannot name a client
    assert _codes(client, [("192.0.2.50", f"198.51.100.{30 + i}") for i in range(3)]) == [200, 200, 429]


def test_proxy_forwarded_proto_from_trusted_proxy_sets_secure_cookie(tmp_path: Path) -> None:
    app = _limited_app(tmp_path, TRUSTED_PROXIES="127.0.0.1", API_RATE_LIMIT="100 per minute")
    client = app.test_client()
    page = client.get("/review/login", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.1"})
    assert "Secure" in next(c for c in page.headers.getlist("Set-Cookie") if c.startswith("verity_pre="))


def test_rate_limit_ipv6_keyed_per_64_429(tmp_path: Path) -> None:
    client = _limited_app(tmp_path).test_client()
    same_64 = [("2001:db8:1:2::1", None), ("2001:db8:1:2:ffff::9", None), ("2001:db8:1:2:1234::5", None)]
    assert _codes(client, same_64) == [200, 200, 429]
    assert _codes(client, [("2001:db8:1:3::1", None)]) == [200]  # the next /64 is another client


def test_trusted_proxies_bad_entry_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="TRUSTED_PROXIES"):
        _limited_app(tmp_path, TRUSTED_PROXIES="10.0.0.0/8, proxy.example")


# --- 5. receipts stay out of the access log ---------------------------------------------------------------------------

def test_access_log_records_no_query_string(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import time

    from buildtasks import serve
    from media_fixtures import ROOT
    from servers import free_port, http_request

    port = free_port()
    config = {"HOST": "127.0.0.1", "PORT": port, "WORKERS": 1, "THREADS": 2, "CHECK_TIMEOUT_S": 20}
    log = tmp_path / "access.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(serve.gunicorn_args(config, []), cwd=ROOT, stdout=out, stderr=subprocess.DEVNULL,
                                env=dict(os.environ, PYTHONPATH=str(ROOT), VERIFY_DATA_DIR=str(tmp_path / "d"),
                                         VERIFY_LOAD_MODELS="false"), start_new_session=True)
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if http_request(port, "GET", "/v1/health")[0] == 200:
                        break
                except OSError:
                    pass
                assert time.monotonic() < deadline and proc.poll() is None, "gunicorn did not start"
                time.sleep(0.2)
            status, _ = http_request(port, "GET", "/v1/reports/0123456789abcdef0123?receipt=SECRET-RECEIPT",
                                     headers={"Referer": "https://page.example/?token=SECRET-REFERER"})
            assert status == 404
            status, _ = http_request(port, "GET", "/v1/reports/0123456789abcdef0123",
                                     headers={"X-Verity-Receipt": "SECRET-HEADER"})
            assert status == 404
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
    text = log.read_text()
    assert text.count('"GET /v1/reports/0123456789abcdef0123 HTTP/1.1" 404') == 2, text
    assert "SECRET" not in text and "receipt=" not in text


# --- 8. the admin role ------------------------------------------------------------------------------------------------

@pytest.fixture
def admin_app(tmp_path: Path, database_url: str):
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": database_url,
                      "LOAD_MODELS": False, "REFUTATION_TOKEN": TOKEN})
    accounts = app.extensions["verity_reports"].accounts
    accounts.add_user("rita", "reviewer", PASSWORD)
    accounts.add_user("ada", "admin", PASSWORD)
    yield app
    app.extensions["verify"].storage.close()


def _signed_in(app, name: str):
    client = app.test_client()
    assert _sign_in(client, name=name).status_code == 302
    return client, _csrf(client.get("/review/").get_data(as_text=True))


ADMIN_FORMS = {"review.admin_add_user": {"name": "newbie", "role": "reviewer", "password": "x" * 12},
               "review.admin_update_user": {"action": "disable"},
               "review.admin_retention": {"days": "90"},
               "review.admin_withdraw": {"refutation_id": "1", "reason": "wrongful"}}


def _admin_rules(app) -> list:
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("review.admin")]
    assert {r.endpoint for r in rules} == {"review.admin", *ADMIN_FORMS}  # a new admin route needs a case here
    return rules


def test_admin_routes_reviewer_403_nothing_changed(admin_app) -> None:
    client, csrf = _signed_in(admin_app, "rita")
    audit_before = len(admin_app.extensions["verity_audit"].entries())
    for rule in _admin_rules(admin_app):
        path = rule.rule.replace("<name>", "ada")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            data = {"csrf": csrf, **ADMIN_FORMS.get(rule.endpoint, {})} if method == "POST" else None
            response = client.open(path, method=method, data=data)
            assert response.status_code == 403, (method, path, response.status_code)
    assert 'id="admin-link"' not in client.get("/review/").get_data(as_text=True)
    users = {u.name: u for u in admin_app.extensions["verity_reports"].accounts.users()}
    assert set(users) == {"ada", "rita"} and not users["ada"].disabled
    assert len(admin_app.extensions["verity_audit"].entries()) == audit_before  # nothing was changed, nor audited


def test_admin_manages_users_and_retention_302(admin_app) -> None:
    client, csrf = _signed_in(admin_app, "ada")
    assert 'id="admin-link"' in client.get("/review/").get_data(as_text=True)
    page = client.get("/review/admin")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'data-user="rita"' in html
    assert all(f'id="{form}"' in html for form in ("add-user", "retention", "withdraw-form"))
    assert client.post("/review/admin/users", data={"csrf": csrf, "name": "newbie", "role": "reviewer",
                                                    "password": "x" * 12}).status_code == 302
    assert client.post("/review/admin/users/rita", data={"csrf": csrf, "action": "role",
                                                         "role": "admin"}).status_code == 302
    assert client.post("/review/admin/users/newbie", data={"csrf": csrf, "action": "disable"}).status_code == 302
    assert client.post("/review/admin/users/ada", data={"csrf": csrf, "action": "disable"}).status_code == 400
    assert client.post("/review/admin/users", data={"csrf": csrf, "name": "weak", "role": "reviewer",
                                                    "password": "short"}).status_code == 400
    users = {u.name: u for u in admin_app.extensions["verity_reports"].accounts.users()}
    assert users["rita"].role == "admin" and users["newbie"].disabled and not users["ada"].disabled
    assert client.post("/review/admin/retention", data={"csrf": csrf, "days": "5"}).status_code == 400
    assert client.post("/review/admin/retention", data={"csrf": csrf, "days": "90"}).status_code == 302
    assert admin_app.extensions["verity_settings"].retention_days() == (90.0, True)
    kinds = [e.kind for e in admin_app.extensions["verity_audit"].entries()]
    assert {"account.add", "account.role", "account.disable", "settings.retention"} <= set(kinds)
    assert all(e.actor == "admin:ada" for e in admin_app.extensions["verity_audit"].entries()
               if e.kind in ("account.role", "account.disable", "settings.retention"))


def _refute_photo(client, photo: str) -> int:
    response = client.post("/v1/refutations", headers={"Authorization": f"Bearer {TOKEN}"},
                           content_type="multipart/form-data", data={
                               "refutation": json.dumps({"claim": "fake", "rating": "False", "fact_checker": "Desk"}),
                               "file": (io.BytesIO(fixture_path("photos/" + photo).read_bytes()), "a.jpg")})
    assert response.status_code == 201, response.get_data(as_text=True)
    return int(response.get_json()["id"])


def _half_size(photo: str) -> bytes:
    from PIL import Image

    img = Image.open(fixture_path("photos/" + photo)).convert("RGB")
    out = io.BytesIO()
    img.resize((img.width // 2, img.height // 2)).save(out, "JPEG", quality=85)
    return out.getvalue()


def test_admin_withdraws_refutation_no_longer_matches(admin_app) -> None:
    api = admin_app.test_client()
    photo = PHOTOS[0]
    rid = _refute_photo(api, photo)
    exact = fixture_path("photos/" + photo).read_bytes()
    variant = _half_size(photo)
    verify = lambda data: api.post("/v1/verify", data=data, content_type="image/jpeg").get_json()  # noqa: E731
    assert verify(exact)["refutation"]["id"] == rid
    assert verify(variant)["refutation"]["id"] == rid  # perceptual match, and now both verdicts are cached

    reviewer, reviewer_csrf = _signed_in(admin_app, "rita")
    refused = reviewer.post("/review/admin/withdraw", data={"csrf": reviewer_csrf, "refutation_id": str(rid),
                                                             "reason": "not mine to withdraw"})
    assert refused.status_code == 403 and admin_app.extensions["verify"].storage.withdrawal(rid) is None

    admin, csrf = _signed_in(admin_app, "ada")
    assert admin.post("/review/admin/withdraw", data={"csrf": csrf, "refutation_id": str(rid),
                                                      "reason": ""}).status_code == 400
    done = admin.post("/review/admin/withdraw", data={"csrf": csrf, "refutation_id": str(rid),
                                                      "reason": "the photo was genuine"})
    assert done.status_code == 200
    assert admin.post("/review/admin/withdraw", data={"csrf": csrf, "refutation_id": str(rid),
                                                      "reason": "again"}).status_code == 409
    assert admin.post("/review/admin/withdraw", data={"csrf": csrf, "refutation_id": "999999",
                                                      "reason": "x"}).status_code == 404

    assert verify(exact)["refutation"] is None
    assert verify(variant)["refutation"] is None
    shown = api.get(f"/v1/refutations/{rid}").get_json()
    assert shown["withdrawn"]["reason"] == "the photo was genuine" and len(shown["media"]) == 1
    entry = admin_app.extensions["verity_audit"].entries(kind="refutation.withdraw")[0]
    assert (entry.actor, entry.subject, entry.data) == ("admin:ada", f"refutation:{rid}",
                                                        {"reason": "the photo was genuine"})
    tomb = admin_app.extensions["verify"].storage.withdrawal(rid)
    assert (tomb.actor, tomb.reason) == ("admin:ada", "the photo was genuine")
