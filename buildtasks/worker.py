"""`build.py worker`: run long audio/video verification jobs from the RQ queue named by VERIFY_JOB_QUEUE.

The worker builds the app exactly as `build.py run` does (same defaults and VERIFY_* variables, so the same
DATA_DIR, database and models), once per process, and runs each job in that process (see
server/job_queue.VerityWorker for why it does not fork). Run as many as the CPUs allow, on any host that shares the
database and DATA_DIR/jobs with the API hosts; stop one with SIGTERM (it finishes its job first).
"""

from __future__ import annotations

import argparse
import os

from server import create_app, load_config
from server.jobs.queue import parse_queue_url, work

from .serve import RUN_DEBS
from .system import ensure_debs


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="build.py worker", description=__doc__.splitlines()[0])
    parser.add_argument("--burst", action="store_true", help="run the queued jobs, then exit (for tests and cron)")
    parser.add_argument("--max-jobs", type=int, default=None, help="exit after this many jobs (a supervisor restarts)")
    args = parser.parse_args(argv)
    config = load_config()
    try:
        url = parse_queue_url(config["JOB_QUEUE"])
    except ValueError as exc:
        print(f"build.py worker: {exc}", flush=True)
        return 2
    if url is None:
        print("build.py worker: VERIFY_JOB_QUEUE is not set: jobs run inline in the API process, there is no queue"
              " to work on (set VERIFY_JOB_QUEUE=redis://host:port/db on the API and the workers)", flush=True)
        return 2
    ensure_debs(RUN_DEBS)
    os.makedirs(config["DATA_DIR"], exist_ok=True)
    app = create_app()
    print(f"Verity worker on {app.extensions['verify_jobs'].queue.name} (data in {os.path.abspath(config['DATA_DIR'])})",
          flush=True)
    from server.refutations.feeds import flag, start_scheduler

    if flag(config["FEED_SYNC"]) and not args.burst:
        start_scheduler(app)  # feeds sync here when a queue is configured (the API processes then leave them)
    work(app, burst=args.burst, max_jobs=args.max_jobs)
    return 0
