"""Background jobs for long audio/video: 202 + polling, and what happens to jobs across a restart."""

from __future__ import annotations

import json
import socket
import time

import pytest

from server import create_app

from media_fixtures import fixture_path

CLIP = "video/match/originals/v01_bikes.mp4"  # 10 s


ENGINES = ("sqlite", "postgresql")  # the job rows live in the database: run on both engines


@pytest.fixture
def job_app(tmp_path, database_url):
    # every clip of 5 s or more is a job
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "data"), "JOB_MIN_DURATION_S": 5,
                      "DATABASE_URL": database_url})
    yield app
    app.extensions["verify"].storage.close()


def _wait(client, url: str, timeout_s: float = 60) -> dict:
    deadline = time.monotonic() + timeout_s
    seen = []
    while time.monotonic() < deadline:
        job = client.get(url).get_json()
        seen.append(job["progress"])
        if job["status"] in ("done", "failed"):
            job["seen_progress"] = seen
            return job
        time.sleep(0.1)
    raise AssertionError(f"job still {job['status']} after {timeout_s} s")


def test_jobs_long_clip_202_then_done_with_verify_response(job_app):
    client = job_app.test_client()
    r = client.post("/v1/verify", data=fixture_path(CLIP).read_bytes(), content_type="video/mp4")
    assert r.status_code == 202
    assert r.headers["Location"] == r.get_json()["url"]
    job = _wait(client, r.headers["Location"])
    assert job["status"] == "done" and job["progress"] == 1.0 and job["stage"] == "done"
    assert job["seen_progress"] == sorted(job["seen_progress"])  # progress never goes back
    result = job["result"]
    assert result["sha256"] == job["sha256"] and result["verdict"]["label"]
    # the verdict is cached like a synchronous one
    assert client.get(f"/v1/verdicts/{job['sha256']}").get_json() == result


def test_jobs_short_clip_answered_synchronously_200(job_app):
    r = job_app.test_client().post("/v1/verify", data=fixture_path("video/match/originals/v05_asl_again.mkv").read_bytes(),
                                   content_type="video/x-matroska")
    assert r.status_code == 200


def test_jobs_truncated_clip_done_with_damage_noted(job_app):
    client = job_app.test_client()
    r = client.post("/v1/verify", data=fixture_path("video/bad/truncated_40pct.mp4").read_bytes(),
                    content_type="video/mp4")
    assert r.status_code == 202
    job = _wait(client, r.headers["Location"])
    assert job["status"] == "done"
    assert any(reason["signal"] == "damaged" for reason in job["result"]["verdict"]["reasons"])


def test_jobs_unknown_id_404(job_app):
    r = job_app.test_client().get("/v1/jobs/" + "0" * 32)
    assert r.status_code == 404 and r.mimetype == "application/problem+json"


def _orphan(app, job_id: str, with_media: bool, attempts: int = 1) -> None:
    """A job a dead process left 'running' (pid 999999 does not exist)."""
    state = app.extensions["verify"]
    now = time.time()
    state.storage.connect().execute(
        "INSERT INTO jobs (id, sha256, media_type, status, stage, progress, owner, attempts, created, updated)"
        " VALUES (?,?,?,?,?,?,?,?,?,?)",
        (job_id, "0" * 64, "video/mp4", "running", "decoding", 0.3, f"{socket.gethostname()}:999999", attempts, now, now))
    if with_media:
        (app.extensions["verify_jobs"].dir / f"{job_id}.bin").write_bytes(fixture_path(CLIP).read_bytes())


def test_jobs_restart_orphaned_running_job_resumed_to_done(job_app, tmp_path):
    job_id = "a" * 32
    _orphan(job_app, job_id, with_media=True)
    restarted = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "data"), "JOB_MIN_DURATION_S": 5,
                            "DATABASE_URL": job_app.config["DATABASE_URL"]})
    job = _wait(restarted.test_client(), f"/v1/jobs/{job_id}")
    restarted.extensions["verify"].storage.close()  # a PostgreSQL connection left to the collector fails a later test
    assert job["status"] == "done" and job["result"]["media_type"] == "video/mp4"


def test_jobs_process_stopping_under_a_job_leaves_it_for_recovery(job_app, tmp_path, monkeypatch):
    """A server stopped while a job runs (its check pools refuse work as the interpreter exits) does not fail the job
    or delete its media: the next start runs it to done."""
    jobs, service = job_app.extensions["verify_jobs"], job_app.extensions["verify"].service

    def stopping(*args, **kwargs):
        raise RuntimeError("cannot schedule new futures after interpreter shutdown")

    monkeypatch.setattr(service, "verify", stopping)
    job_id = "b" * 32
    _orphan(job_app, job_id, with_media=True, attempts=0)
    jobs._db().execute("UPDATE jobs SET status = 'queued', owner = NULL WHERE id = ?", (job_id,))
    assert jobs.run_queued(job_id) == "running"
    assert (jobs.dir / f"{job_id}.bin").exists()
    monkeypatch.undo()
    jobs._db().execute("UPDATE jobs SET owner = ? WHERE id = ?", (f"{socket.gethostname()}:999999", job_id))  # gone
    restarted = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "data"), "JOB_MIN_DURATION_S": 5,
                            "DATABASE_URL": job_app.config["DATABASE_URL"]})
    job = _wait(restarted.test_client(), f"/v1/jobs/{job_id}")
    restarted.extensions["verify"].storage.close()
    assert job["status"] == "done" and job["result"]["media_type"] == "video/mp4"


def test_jobs_restart_media_lost_failed_not_running(job_app, tmp_path):
    job_id = "b" * 32
    _orphan(job_app, job_id, with_media=False)
    restarted = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "data"), "JOB_MIN_DURATION_S": 5,
                            "DATABASE_URL": job_app.config["DATABASE_URL"]})
    job = restarted.test_client().get(f"/v1/jobs/{job_id}").get_json()
    restarted.extensions["verify"].storage.close()
    assert job["status"] == "failed" and job["problem"]["type"].endswith("/job-media-lost")


def test_jobs_restart_interrupted_twice_failed(job_app, tmp_path):
    job_id = "c" * 32
    _orphan(job_app, job_id, with_media=True, attempts=2)
    restarted = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "data"), "JOB_MIN_DURATION_S": 5,
                            "DATABASE_URL": job_app.config["DATABASE_URL"]})
    job = restarted.test_client().get(f"/v1/jobs/{job_id}").get_json()
    restarted.extensions["verify"].storage.close()
    assert job["status"] == "failed" and job["problem"]["type"].endswith("/job-interrupted")


def test_jobs_problem_body_is_json(tmp_path, database_url):
    # a job that fails (here: decoding overruns its budget) stores valid JSON with the RFC 9457 members
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "data"), "JOB_MIN_DURATION_S": 5,
                      "AV_MAX_DECODE_S": 0.05, "DATABASE_URL": database_url, "LOAD_MODELS": False})
    client = app.test_client()
    r = client.post("/v1/verify", data=fixture_path("video/match/originals/v01_bikes.mp4").read_bytes(),
                    content_type="video/mp4")
    assert r.status_code == 202
    job = _wait(client, r.headers["Location"])
    app.extensions["verify"].storage.close()
    assert job["status"] == "failed" and job["problem"]["type"].endswith("/decode-budget-exceeded")
    assert {"type", "title", "status", "detail"} <= set(json.loads(json.dumps(job["problem"])))


def test_jobs_response_matches_openapi_job_schema(job_app):
    import jsonschema

    from server.api import openapi_document

    doc = openapi_document()
    client = job_app.test_client()
    r = client.post("/v1/verify", data=fixture_path(CLIP).read_bytes(), content_type="video/mp4")
    job = _wait(client, r.headers["Location"])
    job.pop("seen_progress")
    jsonschema.validate(job, {**doc["components"]["schemas"]["Job"], "components": doc["components"]})


def test_jobs_same_bytes_join_the_queued_job_one_file(job_app):
    runner = job_app.extensions["verify_jobs"]
    runner.start = lambda: None  # nothing runs the queue here: the job stays queued while it is posted again
    client = job_app.test_client()
    data = fixture_path("video/match/originals/v01_bikes.mp4").read_bytes()
    replies = [client.post("/v1/verify", data=data, content_type="video/mp4") for _ in range(4)]
    assert {r.status_code for r in replies} == {202} and len({r.get_json()["id"] for r in replies}) == 1
    rows = job_app.extensions["verify"].storage.connect().execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
    assert rows == 1 and len(list(runner.dir.glob("*.bin"))) == 1


def test_jobs_per_client_cap_503_with_retry_after(tmp_path, database_url):
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "data"), "JOB_MIN_DURATION_S": 5,
                      "JOB_MAX_QUEUED_PER_CLIENT": 1, "DATABASE_URL": database_url, "LOAD_MODELS": False})
    runner = app.extensions["verify_jobs"]
    runner.start = lambda: None  # nothing runs the queue here: the jobs stay queued
    client = app.test_client()
    clips = ["video/match/originals/v01_bikes.mp4", "video/match/originals/v03_car_detection_000-008.mp4"]
    first = client.post("/v1/verify", data=fixture_path(clips[0]).read_bytes(), content_type="video/mp4")
    second = client.post("/v1/verify", data=fixture_path(clips[1]).read_bytes(), content_type="video/mp4")
    other = client.post("/v1/verify", data=fixture_path(clips[1]).read_bytes(), content_type="video/mp4",
                        environ_base={"REMOTE_ADDR": "203.0.113.9"})
    app.extensions["verify"].storage.close()
    assert first.status_code == 202
    assert second.status_code == 503 and second.get_json()["type"].endswith("/job-queue-full")
    assert int(second.headers["Retry-After"]) > 0
    assert other.status_code == 202  # another client is not capped by this one


def test_jobs_finished_rows_and_orphan_files_pruned(job_app):
    import os

    runner = job_app.extensions["verify_jobs"]
    conn = job_app.extensions["verify"].storage.connect()
    old = time.time() - 30 * 86400
    conn.execute("INSERT INTO jobs (id, sha256, media_type, status, stage, progress, attempts, created, updated)"
                 " VALUES (?,?,?,?,?,?,?,?,?)", ("f" * 32, "0" * 64, "video/mp4", "done", "done", 1.0, 1, old, old))
    orphan = runner.dir / ("e" * 32 + ".bin")
    orphan.write_bytes(b"x")
    os.utime(orphan, (old, old))
    assert runner.prune() == 1
    assert runner.get("f" * 32) is None and not orphan.exists()
