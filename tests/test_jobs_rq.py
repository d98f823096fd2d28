"""Jobs on RQ + Redis (VERIFY_JOB_QUEUE=redis://...): a real redis-server, real workers (a separate `build.py worker`
process, or RQ's SimpleWorker in the test process) and real media; what happens when a worker dies or Redis forgets."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from media_fixtures import ROOT, fixture_path

from server import create_app
from server.jobs.queue import QUEUE_NAME, TASK, runner_of, work
from server.jobs import JobRunner

CLIP = "video/match/originals/v01_bikes.mp4"  # 10 s: a job once JOB_MIN_DURATION_S is 5
TRUNCATED = "video/bad/truncated_40pct.mp4"


ENGINES = ("sqlite", "postgresql")  # job rows in SQLite or PostgreSQL, the queue in Redis


@pytest.fixture
def make_app(tmp_path: Path, redis_url: str, database_url: str, monkeypatch: pytest.MonkeyPatch):
    """make_app(**config) -> an app on this test's DATA_DIR and database with JOB_QUEUE=redis_url; Redis connections
    closed after. Worker processes get the database through VERIFY_DATABASE_URL, as in production."""
    monkeypatch.setenv("VERIFY_DATABASE_URL", database_url)
    apps = []

    def make(**config):
        app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "data"), "JOB_MIN_DURATION_S": 5,
                          "JOB_QUEUE": redis_url, "DATABASE_URL": database_url, **config})
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["verify_jobs"].close()
        app.extensions["verify"].storage.close()


def _submit(app, name: str = CLIP) -> str:
    r = app.test_client().post("/v1/verify", data=fixture_path(name).read_bytes(), content_type="video/mp4")
    assert r.status_code == 202, r.get_data(as_text=True)
    assert r.headers["Location"] == r.get_json()["url"]
    return r.get_json()["id"]


def _job(app, job_id: str) -> dict:
    r = app.test_client().get(f"/v1/jobs/{job_id}")
    assert r.status_code == 200
    return r.get_json()


def _worker_process(tmp_path: Path, redis_url: str, *extra: str) -> subprocess.Popen[bytes]:
    """`python build.py worker` as a separate process, configured through VERIFY_* like production."""
    env = dict(os.environ, VERIFY_DATA_DIR=str(tmp_path / "data"), VERIFY_JOB_QUEUE=redis_url)
    return subprocess.Popen([sys.executable, str(ROOT / "build.py"), "worker", *extra], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _inline_result(tmp_path: Path) -> dict:
    """The same clip through the inline runner, for comparison."""
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "inline"), "JOB_MIN_DURATION_S": 5,
                      "DATABASE_URL": ""})  # its own SQLite: not the queue's database
    assert type(app.extensions["verify_jobs"]) is JobRunner
    job_id = _submit(app)
    deadline = time.monotonic() + 60
    while (job := _job(app, job_id))["status"] not in ("done", "failed"):
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
    return job


def _comparable(result: dict) -> dict:
    """The parts of a verify response that do not depend on when or where it ran."""
    return {"sha256": result["sha256"], "media_type": result["media_type"], "verdict": result["verdict"],
            "checks": sorted((c["check"], c["outcome"]) for c in result["checks"])}


def test_rq_long_clip_queued_until_worker_process_then_done_like_inline(make_app, tmp_path, redis_url):
    app = make_app()
    jobs = runner_of(app)
    job_id = _submit(app)
    time.sleep(0.5)
    # no thread in the API process: the job waits for a worker
    assert jobs._thread is None
    assert _job(app, job_id)["status"] == "queued" and jobs.queue.job_ids == [job_id]

    worker = _worker_process(tmp_path, redis_url, "--burst")
    out, _ = worker.communicate(timeout=120)
    assert worker.returncode == 0, out.decode()

    job = _job(app, job_id)
    assert job["status"] == "done" and job["stage"] == "done" and job["progress"] == 1.0, job
    assert _comparable(job["result"]) == _comparable(_inline_result(tmp_path)["result"])
    # the verdict is cached and the media file removed, as inline
    assert app.test_client().get(f"/v1/verdicts/{job['sha256']}").get_json() == job["result"]
    assert not (jobs.dir / f"{job_id}.bin").exists()
    assert jobs.queue.fetch_job(job_id).return_value() == "done"


def test_rq_truncated_clip_done_with_damage_noted(make_app):
    app = make_app()
    job_id = _submit(app, TRUNCATED)
    assert work(app, burst=True)
    job = _job(app, job_id)
    assert job["status"] == "done" and job["stage"] == "done"
    assert any(reason["signal"] == "damaged" for reason in job["result"]["verdict"]["reasons"])


def test_rq_job_delivered_twice_or_unknown_skipped(make_app):
    app = make_app()
    jobs = runner_of(app)
    job_id = _submit(app)
    jobs.queue.enqueue(TASK, job_id)  # a duplicate delivery (recovery racing a submit, say)
    jobs.queue.enqueue(TASK, "f" * 32)  # an id with no row
    assert work(app, burst=True)
    assert _job(app, job_id)["status"] == "done"
    with app.app_context():
        assert jobs.run_queued(job_id) == "skipped (done)"
        assert jobs.run_queued("f" * 32) == "missing"


def test_rq_redis_lost_queue_restart_reenqueues_then_done(make_app, redis_url):
    app = make_app()
    job_id = _submit(app)
    client = redis.Redis.from_url(redis_url)
    client.flushall()  # Redis restarted without persistence
    client.close()
    assert runner_of(app).queue.count == 0
    restarted = make_app()  # an API (or worker) process starting recovers the queued row
    assert runner_of(restarted).queue.job_ids == [job_id]
    assert work(restarted, burst=True)
    assert _job(app, job_id)["status"] == "done"


def _claimed_by_killed_worker(tmp_path: Path, redis_url: str, app) -> str:
    """A job whose worker process was SIGKILLed while it ran: its row is 'running', its RQ job 'started'."""
    job_id = _submit(app)
    worker = _worker_process(tmp_path, redis_url)
    try:
        deadline = time.monotonic() + 60
        while _job(app, job_id)["status"] == "queued":
            assert time.monotonic() < deadline and worker.poll() is None, "the worker never claimed the job"
            time.sleep(0.01)
        worker.send_signal(signal.SIGKILL)
    finally:
        worker.kill()
        worker.communicate()
    job = _job(app, job_id)
    if job["status"] != "running":
        pytest.skip(f"the worker finished the job ({job['status']}) before it could be killed")
    assert runner_of(app).queue.fetch_job(job_id).get_status() == "started"
    return job_id


def test_rq_worker_killed_mid_job_requeued_then_done(make_app, tmp_path, redis_url):
    app = make_app()
    job_id = _claimed_by_killed_worker(tmp_path, redis_url, app)
    # this host: the owner's pid is gone, so the next recovery (a worker starting) requeues it at once
    worker = make_app()
    assert runner_of(worker).queue.job_ids == [job_id]
    assert work(worker, burst=True)
    job = _job(app, job_id)
    assert job["status"] == "done", job


def test_rq_worker_on_other_host_lost_requeued_after_rq_abandons_it(make_app, tmp_path, redis_url):
    app = make_app()
    jobs = runner_of(app)
    job_id = _claimed_by_killed_worker(tmp_path, redis_url, app)
    # as if that worker ran on another host: its pid cannot be checked from here, only RQ's registry can tell
    db = app.extensions["verify"].storage.connect()
    db.execute("UPDATE jobs SET owner = ? WHERE id = ?", ("elsewhere:1", job_id))
    with app.app_context():
        assert jobs.recover() == 0  # RQ still counts it as started: left alone
    assert _job(app, job_id)["status"] == "running"
    # time passes: the started registry entry expires (job timeout + 60 s) without a heartbeat
    registry = jobs.queue.started_job_registry
    jobs.redis.zadd(registry.key, {entry: 1 for entry in jobs.redis.zrange(registry.key, 0, -1)})
    with app.app_context():
        assert jobs.recover() == 1
    assert _job(app, job_id)["status"] == "queued" and jobs.queue.job_ids == [job_id]
    assert work(app, burst=True)
    assert _job(app, job_id)["status"] == "done"


def test_rq_redis_lost_while_running_elsewhere_left_until_stale(make_app, redis_url):
    app = make_app()
    jobs = runner_of(app)
    job_id = _submit(app)
    db = app.extensions["verify"].storage.connect()
    db.execute("UPDATE jobs SET status = 'running', owner = 'elsewhere:1', attempts = 1 WHERE id = ?", (job_id,))
    client = redis.Redis.from_url(redis_url)
    client.flushall()  # Redis forgets the job while a worker on another host runs it
    client.close()
    with app.app_context():
        assert jobs.recover() == 0  # recently updated: its worker is presumably still at it
        db.execute("UPDATE jobs SET updated = ? WHERE id = ?", (time.time() - 3600, job_id))
        assert jobs.recover() == 1  # past the job timeout: that worker is gone
    assert _job(app, job_id)["status"] == "queued" and jobs.queue.job_ids == [job_id]


def test_rq_interrupted_max_attempts_failed(make_app, tmp_path, redis_url):
    app = make_app()
    job_id = _submit(app)
    now = time.time()
    app.extensions["verify"].storage.connect().execute(
        "UPDATE jobs SET status = 'running', stage = 'decoding', owner = ?, attempts = 2, updated = ? WHERE id = ?",
        (f"{socket.gethostname()}:999999", now, job_id))
    make_app()  # restart: recovery sees a job interrupted twice
    job = _job(app, job_id)
    assert job["status"] == "failed" and job["problem"]["type"].endswith("/job-interrupted")


def test_rq_media_not_shared_with_worker_failed_media_lost(make_app):
    app = make_app()
    jobs = runner_of(app)
    job_id = _submit(app)
    (jobs.dir / f"{job_id}.bin").unlink()  # a worker whose DATA_DIR/jobs is not the API's
    assert work(app, burst=True)
    job = _job(app, job_id)
    assert job["status"] == "failed" and job["problem"]["status"] == 410
    assert job["problem"]["type"].endswith("/job-media-lost")


def test_rq_redis_down_submit_503_job_failed(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # nothing listens there: the API still starts (synchronous verifications need no Redis)
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "data"), "JOB_MIN_DURATION_S": 5,
                      "JOB_QUEUE": f"redis://127.0.0.1:{port}/0"})
    try:
        client = app.test_client()
        r = client.post("/v1/verify", data=fixture_path(CLIP).read_bytes(), content_type="video/mp4")
        assert r.status_code == 503 and r.mimetype == "application/problem+json"
        body = r.get_json()
        assert body["type"].endswith("/job-queue-unavailable") and body["retry_after_s"] > 0
        row = app.extensions["verify"].storage.connect().execute("SELECT status FROM jobs").fetchone()
        assert row["status"] == "failed"
        short = client.post("/v1/verify", data=fixture_path("video/match/originals/v05_asl_again.mkv").read_bytes(),
                            content_type="video/x-matroska")
        assert short.status_code == 200
    finally:
        app.extensions["verify_jobs"].close()


@pytest.mark.parametrize("value", ["http://127.0.0.1:6379/0", "redis://127.0.0.1:notaport/0", "redis://h/notadb",
                                   "localhost:6379"])
def test_rq_bad_queue_url_startup_error(tmp_path, value):
    with pytest.raises(ValueError, match="VERIFY_JOB_QUEUE"):
        create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "data"), "JOB_QUEUE": value})


def test_rq_bad_queue_url_error_hides_password(tmp_path):
    with pytest.raises(ValueError) as info:
        create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "data"), "JOB_QUEUE": "redis://u:s3cret@h:x/0"})
    assert "s3cret" not in str(info.value)


@pytest.mark.parametrize("value", ["", "inline", None])
def test_rq_inline_setting_keeps_thread_runner(tmp_path, value):
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "data"), "JOB_QUEUE": value})
    assert type(app.extensions["verify_jobs"]) is JobRunner


def test_rq_worker_command_without_queue_exits_2(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "VERIFY_JOB_QUEUE"}
    r = subprocess.run([sys.executable, str(ROOT / "build.py"), "worker", "--burst"], check=False, cwd=ROOT,
                       capture_output=True, text=True, env=dict(env, VERIFY_DATA_DIR=str(tmp_path / "data")), timeout=60)
    assert r.returncode == 2 and "VERIFY_JOB_QUEUE" in r.stdout


def test_rq_queue_name(make_app):
    assert runner_of(make_app()).queue.name == QUEUE_NAME


def test_rq_job_payload_is_json_job_id_only(make_app, redis_url):
    """Nothing read back from Redis is unpickled: the payload is JSON and carries only the job id (a Redis writer
    cannot make a worker run code or read media it chose)."""
    import json
    import zlib

    import redis

    job_id = _submit(make_app())
    client = redis.Redis.from_url(redis_url)
    try:
        raw = client.hget(f"rq:job:{job_id}", "data")
    finally:
        client.close()
    assert json.loads(zlib.decompress(raw)) == ["server.jobs.queue.perform", None, [job_id], {}]
