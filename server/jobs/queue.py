"""Verification jobs on RQ + Redis (VERIFY_JOB_QUEUE=redis://host:port/db), run by `build.py worker` processes.

The `jobs` table stays the source of truth for status, progress, verdict and problem (GET /v1/jobs/<id> reads only
the table). Redis carries nothing but job ids: the RQ job id *is* the job row's id, so "does RQ know this job?" is one
lookup, and a lost Redis loses no job. The media stays in DATA_DIR/jobs/<id>.bin, written by the API and read by the
worker, so API and worker hosts share DATA_DIR/jobs (same host, or a shared filesystem).

What can go wrong, and what happens (all in `RQJobRunner.recover`, run when an API or worker process starts and at
every worker maintenance pass, RQ's `maintenance_interval`, 10 minutes by default):

- A worker dies mid-job (SIGKILL, OOM, host lost). Its row stays "running". On the same host its pid is gone, so the
  job is orphaned at once; on another host RQ's StartedJobRegistry entry expires (job timeout + 60 s) and its cleanup
  marks the RQ job failed (AbandonedJobError), which recovery reads as orphaned too. An orphaned job is queued and
  enqueued again, unless it was already interrupted MAX_ATTEMPTS times (then failed: job-interrupted) or its media is
  gone (failed: job-media-lost). RQ's own Retry is not used: the row counts attempts, in one place for both runners.
- Redis loses the queue (restart without persistence, flush, failover). Rows "queued" whose RQ job is unknown, or
  finished/failed without the row having moved, are enqueued again. A "running" row is left to its worker while that
  worker's pid lives (same host) or, on another host, until it is older than the job timeout allows. The claim (one conditional UPDATE) makes a
  duplicate delivery harmless: the second delivery finds the row taken and is skipped.
- Redis is down when a job is submitted: the job row is failed and the client gets 503 job-queue-unavailable with
  retry_after_s, rather than a 202 for a job nobody may ever enqueue.
- A job runs past JOB_TIMEOUT_S: RQ's death penalty raises inside it and the row is failed (job-timeout).
"""

from __future__ import annotations

import logging
import signal
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis
from flask import Flask
from rq import Queue, SimpleWorker
from rq.job import JobStatus
from rq.registry import StartedJobRegistry
from rq.timeouts import JobTimeoutException

from ..errors import Problem
from ..jsonio import BoundedJSONSerializer
from .runner import JobRunner, _owner, _owner_alive, runner

log = logging.getLogger(__name__)

QUEUE_NAME = "verity-jobs"
TASK = "server.jobs.queue.perform"
# Decoding is bounded by AV_MAX_DECODE_S (60 s) and each check by CHECK_TIMEOUT_S (20 s): ten minutes is several times
# the worst case seen, so it only ends a job that is really stuck.
JOB_TIMEOUT_S = 600
# The RQ job's return value (the final status) is for operators (`rq info`, dashboards): the verdict is in the database.
RESULT_TTL_S = 3600
FAILURE_TTL_S = 7 * 24 * 3600
# A "running" row whose RQ job still looks started is orphaned anyway once it is older than the job timeout plus the
# registry's grace (60 s) and a margin: by then RQ's death penalty would have ended it.
RUNNING_GRACE_S = JOB_TIMEOUT_S + 120
_LIVE_RQ_STATES = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED}
_SCHEMES = ("redis", "rediss", "unix")


def _redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[-1]
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + netloc))


def parse_queue_url(value: str | None) -> str | None:
    """VERIFY_JOB_QUEUE: None for the inline runner (unset, "" or "inline"), else a validated Redis URL.

    Raises:
        ValueError: neither; the message names the setting and the accepted forms (never the password).
    """
    text = (value or "").strip()
    if text.lower() in ("", "inline"):
        return None
    expected = "VERIFY_JOB_QUEUE must be empty, 'inline' or a Redis URL such as redis://127.0.0.1:6379/0"
    try:
        scheme = urlsplit(text).scheme
    except ValueError as exc:
        raise ValueError(f"{expected}; it is not a URL ({exc})") from None
    if scheme not in _SCHEMES:
        raise ValueError(f"{expected}; got {_redacted(text)!r} (scheme {scheme or 'missing'!r})")
    try:
        kwargs = redis.connection.parse_url(text)  # host, port and options, as redis-py will read them
        if scheme != "unix" and urlsplit(text).path.strip("/") and "db" not in kwargs:
            raise ValueError("the path must be a database number")  # redis-py would silently use database 0
    except ValueError as exc:
        raise ValueError(f"{expected}; got {_redacted(text)!r}: {exc}") from None
    return text


class RQJobRunner(JobRunner):
    """Jobs dispatched through RQ: the API process only enqueues ids (no thread); `build.py worker` runs them."""

    def __init__(self, state: Any, url: str) -> None:
        super().__init__(state)
        self.url = url
        self.redis = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30, health_check_interval=30)
        # JSON, not pickle: a job's arguments are one id, and nothing read from Redis should be able to run code.
        self.queue = Queue(QUEUE_NAME, connection=self.redis, serializer=BoundedJSONSerializer)

    def close(self) -> None:
        """Close the Redis connections."""
        self.redis.close()

    def start(self) -> None:
        """No in-process thread in RQ mode: workers pull from Redis."""

    def _enqueue(self, job_id: str) -> None:
        stale = self.queue.fetch_job(job_id)
        if stale is not None:
            stale.delete()  # a failed/finished RQ job of an earlier attempt: replace it, with its registry entries
        self.queue.enqueue(TASK, job_id, job_id=job_id, job_timeout=JOB_TIMEOUT_S, result_ttl=RESULT_TTL_S,
                           failure_ttl=FAILURE_TTL_S, description=f"verify job {job_id}")

    def _dispatch_new(self, job_id: str) -> None:
        try:
            self._enqueue(job_id)
        except redis.RedisError as exc:
            log.error("job %s: cannot enqueue on %s: %s", job_id, _redacted(self.url), exc)
            problem = Problem(503, "job-queue-unavailable", "The job queue is unavailable",
                              "The verification could not be queued; retry shortly.", retry_after_s=30)
            self._fail(job_id, problem)
            raise problem from None

    def _dispatch(self, job_ids: list[str]) -> None:
        for job_id in job_ids:
            self._enqueue(job_id)

    def recover(self) -> int:
        """Requeue orphaned jobs (see the module docstring). Redis being down is logged, not fatal: the API still
        answers synchronous verifications, and the next recovery pass (a worker's maintenance) catches up."""
        try:
            # RQ's own cleanup (also run by workers): started jobs whose worker stopped heartbeating become failed.
            StartedJobRegistry(queue=self.queue).cleanup()
            return super().recover()
        except redis.RedisError as exc:
            log.warning("job recovery skipped, Redis at %s unavailable: %s", _redacted(self.url), exc)
            return 0

    def _alive(self, row: dict[str, Any]) -> bool:
        owner, status = row["owner"], row["status"]
        fresh = time.time() - row["updated"] < RUNNING_GRACE_S
        if status == "running" and owner:
            if owner == _owner():
                return False  # recovery runs between this worker's jobs: a row it still holds was interrupted
            if owner.rpartition(":")[0] == _owner().rpartition(":")[0]:
                return _owner_alive(owner) and fresh  # this host: the pid tells, whatever Redis remembers
        rq_job = self.queue.fetch_job(row["id"])
        rq_status = rq_job.get_status(refresh=False) if rq_job is not None else None
        if status == "queued":
            return rq_status in _LIVE_RQ_STATES
        if rq_job is None:
            # Redis forgot a job another host runs: only the row can tell, and a worker past the job timeout would
            # have been stopped by then.
            return fresh
        return rq_status == JobStatus.STARTED and fresh

    def _crash_problem(self, exc: Exception) -> Problem:
        if isinstance(exc, JobTimeoutException):
            return Problem(500, "job-timeout", "The job took too long",
                           f"The verification did not finish within {JOB_TIMEOUT_S} s and was stopped.")
        return super()._crash_problem(exc)


def perform(job_id: str) -> str:
    """The RQ task: run one job with the worker's app (pushed by `work`); returns the final status for RQ's record."""
    return runner().run_queued(job_id)


class VerityWorker(SimpleWorker):
    """RQ's SimpleWorker, running each job in the worker process itself, plus job recovery at every maintenance pass.

    Why SimpleWorker and not the forking Worker: the app (ONNX sessions, indexes) is built once per process and reused
    by every job; a fork per job would either rebuild it (seconds of model loading per job) or inherit it across
    fork(), which is unsafe here: onnxruntime's thread pools do not survive a fork, and the SQLite connection the
    parent opened must not be used by a child. What SimpleWorker gives up is isolation: a crash in a decoder takes
    the worker down, so run it under a supervisor (systemd Restart=always); the interrupted job is recovered as above.
    """

    app: Flask

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()
        with self.app.app_context():
            runner().recover()


def work(app: Flask, *, burst: bool = False, max_jobs: int | None = None) -> bool:
    """Run an RQ worker for `app`'s queue in this process until stopped (or, with burst, until the queue is empty).

    Returns:
        Whether any job was run.
    """
    jobs = runner_of(app)
    worker = VerityWorker([jobs.queue], connection=jobs.redis, serializer=BoundedJSONSerializer)
    worker.app = app
    # RQ installs its own SIGINT/SIGTERM handlers (warm, then cold shutdown) and leaves them; put the caller's back.
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with app.app_context():  # the task reads the runner from current_app
            return bool(worker.work(burst=burst, max_jobs=max_jobs, logging_level="INFO"))
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def runner_of(app: Flask) -> RQJobRunner:
    """The app's RQ runner.

    Raises:
        RuntimeError: the app runs jobs inline (VERIFY_JOB_QUEUE unset).
    """
    jobs = app.extensions["verify_jobs"]
    if not isinstance(jobs, RQJobRunner):
        raise RuntimeError("VERIFY_JOB_QUEUE is not a Redis URL: this app runs its jobs inline, in the API process")
    return jobs
