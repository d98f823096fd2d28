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

@pytest.mark.parametrize("doc", [_deep(), _deep(open_='{"a":', close="}"), '{"category": "other", "x": ' + _deep() + "}"])
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


@pytest.mark.parametrize(("q", "expected"), [("%", ["a"]), ("_", ["a", "b"]), ("e_c", ["b"]), ("50%_off", ["a"]), ("a%c", []),
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
