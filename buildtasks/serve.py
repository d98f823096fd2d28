"""`build.py run`: serve the API with gunicorn (a production WSGI server) on VERIFY_HOST:VERIFY_PORT."""

from __future__ import annotations

import os
import sys

from server import load_config

from .system import ensure_debs

# Debian packages the server needs at run time (Chromaprint for audio fingerprints, loaded through ctypes).
RUN_DEBS: list[str] = ["libchromaprint1"]


def main(argv: list[str]) -> int:
    ensure_debs(RUN_DEBS)
    config = load_config()
    bind = f"{config['HOST']}:{config['PORT']}"
    os.makedirs(config["DATA_DIR"], exist_ok=True)
    print(f"Verity API on http://{bind} (data in {os.path.abspath(config['DATA_DIR'])})", flush=True)
    # glibc gives every thread its own malloc arena; with many request and check threads that fragments the heap and
    # the workers' RSS creeps up under load (build.py bench --load). Two arenas per process keep it flat.
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")
    args = [sys.executable, "-m", "gunicorn", "--bind", bind, "--workers", str(config["WORKERS"]),
            "--threads", str(config["THREADS"]), "--timeout", str(int(float(config["CHECK_TIMEOUT_S"]) * 3 + 30)),
            "--access-logfile", "-", *argv, "server:create_app()"]
    os.execv(sys.executable, args)
    return 0
