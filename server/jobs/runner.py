"""The job runner: claims, runs and recovers verification jobs (one row per job in the `jobs` table).

`JobRunner` runs jobs in a thread of each API process; `queue.RQJobRunner` overrides only dispatch and liveness to run
them on RQ workers. Running a job is the verification service's work (server/service.py); this module owns the job's
life: claim, progress, result or problem, and recovery after a crash.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from flask import current_app

from ..errors import DOMAIN_PROBLEMS, PROBLEM_BASE, Problem
from ..verify.media import load_media
from ..verify.types import Media, MediaError

log = logging.getLogger(__name__)


class JobQueueFull(Exception):
    """The caps on queued jobs are reached (503 with Retry-After at the edge)."""

MAX_ATTEMPTS = 2
STALE_S = 900.0  # a "running" job not updated for this long is orphaned, whoever its owner claims to be


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _owner_alive(owner: str | None) -> bool:
    if not owner:
        return False
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname():
        return True  # another machine's job: not ours to judge
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


class JobRunner:
    """Queue, claim and run verification jobs for one app (one per process); this class runs them in a thread."""

    def __init__(self, state: Any) -> None:
        self.state = state
        self.dir = Path(state.settings.data_dir) / "jobs"
        self.dir.mkdir(parents=True, exist_ok=True)
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    # -- storage ---------------------------------------------------------------------------------------------------
    def _db(self) -> Any:
        return self.state.storage.connect()

    def get(self, job_id: str) -> dict[str, Any] | None:
        row = self._db().execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return dict(row) if row else None

    def _update(self, job_id: str, **fields: Any) -> None:
        fields["updated"] = time.time()
        cols = ", ".join(f"{k} = ?" for k in fields)
        self._db().execute(f"UPDATE jobs SET {cols} WHERE id = ?", (*fields.values(), job_id))

    # -- lifecycle -------------------------------------------------------------------------------------------------
    def submit(self, media: Media, source_url: str | None, page_url: str | None, client: str | None = None) -> str:
        """Queue a verification job; returns its id. The same bytes join the job already queued or running for them.

        Raises:
            JobQueueFull: the caps on queued jobs (all clients, or this client) are reached.
        """
        config = self.state.config
        with self.state.storage.transaction() as conn:  # one writer: the checks below and the insert are atomic
            same = conn.execute("SELECT id FROM jobs WHERE sha256 = ? AND status IN ('queued', 'running')"
                                " ORDER BY created LIMIT 1", (media.sha256,)).fetchone()
            if same is not None:
                return str(same["id"])
            total, mine = conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(CASE WHEN client = ? THEN 1 ELSE 0 END), 0) FROM jobs"
                " WHERE status IN ('queued', 'running')", (client,)).fetchone()
            if int(total) >= int(config["JOB_MAX_QUEUED"]):
                raise JobQueueFull("The server has as many long verifications queued as it takes; retry later.")
            if client is not None and int(mine) >= int(config["JOB_MAX_QUEUED_PER_CLIENT"]):
                raise JobQueueFull("You already have as many long verifications queued as one client may; retry "
                                   "when one has finished.")
            job_id = uuid.uuid4().hex
            path = self.dir / f"{job_id}.bin"
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(media.data)
            os.replace(tmp, path)
            now = time.time()
            conn.execute(
                "INSERT INTO jobs (id, sha256, media_type, status, stage, progress, source_url, page_url, attempts,"
                " created, updated, client) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (job_id, media.sha256, media.mime, "queued", "queued", 0.0, source_url, page_url, 0, now, now, client))
        self._dispatch_new(job_id)
        return job_id

    def prune(self, now: float | None = None) -> int:
        """Delete finished job rows older than JOB_RETENTION_DAYS, and media files no live job owns; returns the rows
        deleted. The verdicts stay in the verdict cache and the records; a job row is only the request's status."""
        now = time.time() if now is None else now
        cutoff = now - float(self.state.config["JOB_RETENTION_DAYS"]) * 86400
        cur = self._db().execute("DELETE FROM jobs WHERE status IN ('done', 'failed') AND updated < ?", (cutoff,))
        live = {row["id"] for row in self._db().execute("SELECT id FROM jobs WHERE status IN ('queued', 'running')")}
        for path in self.dir.glob("*.bin"):
            if path.stem not in live and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
        return int(cur.rowcount or 0)

    def recover(self) -> int:
        """Requeue jobs orphaned by a dead process (or fail them), then dispatch them; returns how many were requeued."""
        self.prune()
        rows = self._db().execute("SELECT id, status, owner, attempts, updated FROM jobs"
                                  " WHERE status IN ('queued', 'running')").fetchall()
        requeued = [row["id"] for row in rows if not self._alive(dict(row)) and self._requeue_or_fail(dict(row))]
        if requeued:
            self._dispatch(requeued)
        return len(requeued)

    def _alive(self, row: dict[str, Any]) -> bool:
        """Whether someone still runs (or will run) this queued/running job, so recovery must leave it alone."""
        owner = row["owner"]
        return bool(owner and owner != _owner() and _owner_alive(owner) and time.time() - row["updated"] < STALE_S)

    def _requeue_or_fail(self, row: dict[str, Any]) -> bool:
        """An orphaned job: fail it when its media is gone or it was interrupted MAX_ATTEMPTS times, else queue it."""
        job_id, attempts = row["id"], row["attempts"]
        if not (self.dir / f"{job_id}.bin").exists():
            self._fail(job_id, Problem(410, "job-media-lost", "The job's media is gone",
                                       "The server restarted and the job's media file was not found; submit it again."))
            return False
        if attempts >= MAX_ATTEMPTS:
            self._fail(job_id, Problem(500, "job-interrupted", "The job was interrupted",
                                       f"The server stopped {attempts} times while running this job; submit it again."))
            return False
        self._db().execute("UPDATE jobs SET status = 'queued', stage = 'queued', owner = NULL, updated = ?"
                           " WHERE id = ? AND status IN ('queued', 'running')", (time.time(), job_id))
        return True

    # -- dispatch (the inline runner: one thread per process) -----------------------------------------------------
    def _dispatch_new(self, job_id: str) -> None:
        """A job was just submitted."""
        self.start()

    def _dispatch(self, job_ids: list[str]) -> None:
        """Jobs recovery queued again."""
        self.start()

    def close(self) -> None:
        """Release connections (the inline runner holds none; its thread exits when idle)."""

    def start(self) -> None:
        with self._lock:
            self._wake.set()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="verity-jobs", daemon=True)
                self._thread.start()

    def _claim(self) -> str | None:
        """The oldest queued job, claimed; "" when another process took it first; None when none is queued."""
        row = self._db().execute("SELECT id FROM jobs WHERE status = 'queued' ORDER BY created LIMIT 1").fetchone()
        if row is None:
            return None
        return row["id"] if self.claim(row["id"]) else ""

    def claim(self, job_id: str) -> bool:
        """Take a queued job for this process (one conditional UPDATE: of several claimants exactly one wins)."""
        cur = self._db().execute(
            "UPDATE jobs SET status = 'running', stage = 'decoding', owner = ?, attempts = attempts + 1, updated = ?"
            " WHERE id = ? AND status = 'queued'", (_owner(), time.time(), job_id))
        return cur.rowcount == 1

    def run_queued(self, job_id: str) -> str:
        """Claim one job and run it (a queue worker's entry point); returns its final status, or why it was skipped.

        A job that is missing, already taken, done or failed is skipped: a queue may deliver an id twice (recovery
        re-enqueues what Redis lost), and the row, not the queue, decides.
        """
        job = self.get(job_id)
        if job is None:
            log.warning("job %s: no such job row, skipped", job_id)
            return "missing"
        if job["status"] != "queued" or not self.claim(job_id):
            log.info("job %s: %s, skipped", job_id, job["status"])
            return f"skipped ({job['status']})"
        self.run(job_id)
        done = self.get(job_id)
        return done["status"] if done else "missing"

    def _loop(self) -> None:
        """Run queued jobs until none is left, then exit (the next submit starts a new thread)."""
        while True:
            self._wake.clear()
            job_id = self._claim()
            if job_id is None:
                if not self._wake.wait(timeout=1.0):
                    return
                continue
            if job_id:
                self.run(job_id)

    def run(self, job_id: str) -> None:
        """Run a claimed job to `done` (verdict cached, record written) or `failed` (with a problem); never raises."""
        job = self.get(job_id)
        assert job is not None
        path = self.dir / f"{job_id}.bin"
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            # With a queue, the API wrote the file on its host: a worker that cannot see it does not share DATA_DIR.
            self._fail(job_id, Problem(410, "job-media-lost", "The job's media is gone",
                                       "The job's media file was not found where the job ran; submit it again."))
            return
        try:
            media = load_media(data, self.state.settings.limits)
            last = [0.0, 0.0]

            def progress(p: float) -> None:  # decoding is ~90 % of the work; write at most every 0.5 s
                now = time.monotonic()
                if now - last[1] >= 0.5 or p >= 1.0:
                    last[0], last[1] = p, now
                    if p >= 1.0:
                        self._update(job_id, stage="checks", progress=0.9)
                    else:
                        self._update(job_id, progress=round(0.9 * p, 3))

            body, _ = self.state.service.verify(media, source_url=job["source_url"], page_url=job["page_url"],
                                                actor="job", progress=progress)
            self._update(job_id, status="done", stage="done", progress=1.0, result=json.dumps(body))
            path.unlink(missing_ok=True)
        except MediaError as exc:
            status, slug, title = next(DOMAIN_PROBLEMS[k] for k in type(exc).__mro__ if k in DOMAIN_PROBLEMS)
            self._fail(job_id, Problem(status, slug, title, str(exc)))
        except Exception as exc:
            if process_stopping(exc):
                # Stopped under the job (a restart, a deploy): not the job's failure. The row stays `running` under
                # this process and the media stays, so the next start's recovery queues it again.
                log.warning("job %s interrupted: the process is stopping; recovery will run it again", job_id)
                return
            log.exception("job %s failed", job_id)
            self._fail(job_id, self._crash_problem(exc))
        # Not `finally`: a process stopped mid-job (SystemExit, KeyboardInterrupt) keeps the media, so that recovery
        # can run the job again instead of failing it as media-lost.

    def _crash_problem(self, exc: Exception) -> Problem:
        """The problem recorded for an unexpected exception inside a job."""
        return Problem(500, "internal-error", "Internal server error", "The job failed on the server; it has been logged.")

    def _fail(self, job_id: str, problem: Problem) -> None:
        body: dict[str, Any] = {"type": PROBLEM_BASE + problem.slug, "title": problem.title, "status": problem.status}
        if problem.detail:
            body["detail"] = problem.detail
        self._update(job_id, status="failed", stage="failed", problem=json.dumps(body))
        (self.dir / f"{job_id}.bin").unlink(missing_ok=True)


def process_stopping(exc: BaseException) -> bool:
    """Whether `exc` comes from this process shutting down while a job ran: the interpreter finalizing, or the
    thread pools the checks run on refusing work because the interpreter is exiting (gunicorn's worker exits on
    SIGTERM while the job thread, a daemon, is still inside the pipeline). Measured: `build.py bench --load` stopped
    its server with clip jobs running, and they were failed as internal errors with their media deleted."""
    import concurrent.futures.thread as pool_threads

    if sys.is_finalizing() or getattr(pool_threads, "_shutdown", False):
        return True
    return isinstance(exc, RuntimeError) and "after" in str(exc) and "shutdown" in str(exc)


def runner() -> JobRunner:
    return current_app.extensions["verify_jobs"]  # type: ignore[no-any-return]
