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
    # glibc raises its mmap threshold after the first large free, after which frame-sized buffers (video samples and
    # keyframes, images) come from the heap and fragment it; a fixed threshold returns them to the system when freed.
    # Measured on a 30-minute clip's verification with the models loaded: 462 -> 366 MB peak (docs/security.md #19).
    os.environ.setdefault("MALLOC_MMAP_THRESHOLD_", "131072")
    os.execv(sys.executable, gunicorn_args(config, argv))
    return 0


# gunicorn's default access log format with the path (%(U)s) instead of the request line (%(r)s), and without the
# Referer: query strings can hold secrets (a report's receipt, tokens a page put in its URL) and must not land in a
# log next to the client address.
ACCESS_LOG_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s "%(a)s"'


def gunicorn_args(config: dict[str, object], argv: list[str]) -> list[str]:
    """The gunicorn command line `build.py run` executes (tests start the same one)."""
    return [sys.executable, "-m", "gunicorn", "--bind", f"{config['HOST']}:{config['PORT']}",
            "--workers", str(config["WORKERS"]), "--threads", str(config["THREADS"]),
            "--timeout", str(int(float(str(config["CHECK_TIMEOUT_S"])) * 3 + 30)),
            "--access-logfile", "-", "--access-logformat", ACCESS_LOG_FORMAT, *argv, "server:create_app()"]
