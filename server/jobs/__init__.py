"""Long verifications as jobs (blueprint "jobs"): 202 Accepted + GET /v1/jobs/<id> with stage and progress.

Audio/video at least `JOB_MIN_DURATION_S` long or `JOB_MIN_MB` large is verified in the background. Jobs live in the
database (table `jobs`, the source of truth for status and progress) and their media in DATA_DIR/jobs/, so they survive
a restart: on start-up, a job left "running" by a process that no longer exists is queued again (once; a second
interruption fails it), and a job whose media file is gone is failed. A job is claimed with one conditional UPDATE, so
several processes never run the same job twice. A job never stays "running" after its process died.

Who runs the jobs is chosen by VERIFY_JOB_QUEUE: empty or "inline" (the default) is `JobRunner`, a thread in each API
process; a redis:// URL is `server.jobs.queue.RQJobRunner`, which only enqueues job ids on RQ for `build.py worker`
processes. Both share everything below except dispatch (`start`/`_dispatch`) and liveness (`_alive`).
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, jsonify, url_for

from ..errors import Problem
from ..verify import av_decode
from ..verify.types import Media
from ..reports.api import client_id
from .runner import JobQueueFull, JobRunner, runner

bp = Blueprint("jobs", __name__, url_prefix="/v1/jobs")


def should_queue(media: Media, probe: av_decode.Probe, config: dict[str, Any]) -> bool:
    """Audio/video over the duration or size threshold is a job."""
    return (probe.duration_s >= float(config["JOB_MIN_DURATION_S"])
            or len(media.data) >= float(config["JOB_MIN_MB"]) * 1024 * 1024)


def job_json(job: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"id": job["id"], "status": job["status"], "stage": job["stage"],
                            "progress": job["progress"], "sha256": job["sha256"], "media_type": job["media_type"],
                            "created": job["created"], "updated": job["updated"],
                            "url": url_for("jobs.get_job", job_id=job["id"])}
    if job["status"] == "done" and job["result"]:
        body["result"] = json.loads(job["result"])
    if job["status"] == "failed" and job["problem"]:
        body["problem"] = json.loads(job["problem"])
    return body


def submit_response(media: Media, source_url: str | None, page_url: str | None) -> Response:
    """202 Accepted with the job's URL (Location) and its first status."""
    jobs = runner()
    try:
        job_id = jobs.submit(media, source_url, page_url, client=client_id())
    except JobQueueFull as exc:
        raise Problem(503, "job-queue-full", "Too many long verifications are queued", str(exc),
                      retry_after_s=60) from None
    job = jobs.get(job_id)
    assert job is not None
    response = jsonify(job_json(job))
    response.status_code = 202
    response.headers["Location"] = url_for("jobs.get_job", job_id=job_id)
    return response


@bp.get("/<job_id>")
def get_job(job_id: str) -> Response:
    """A job's stage and progress (0-1); when done, `result` is the verify response; when failed, `problem`."""
    job = runner().get(job_id) if len(job_id) == 32 and job_id.isalnum() else None
    if job is None:
        raise Problem(404, "job-not-found", "No such job", "The job id is unknown (jobs are kept with the database).")
    return jsonify(job_json(job))


def make_runner(state: Any, queue_setting: str | None) -> JobRunner:
    """The runner VERIFY_JOB_QUEUE asks for: inline (empty or "inline") or RQ (redis://host:port/db).

    Raises:
        ValueError: the setting is neither (a clear start-up error, naming the setting).
    """
    from . import queue

    url = queue.parse_queue_url(queue_setting)
    return JobRunner(state) if url is None else queue.RQJobRunner(state, url)


def init_app(app: Any, state: Any) -> None:
    """Register the blueprint and the runner; pick up jobs a previous process left behind."""
    jobs = make_runner(state, app.config.get("JOB_QUEUE"))
    app.extensions["verify_jobs"] = jobs
    app.register_blueprint(bp)
    jobs.recover()
