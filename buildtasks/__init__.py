"""build.py's commands, one module each. They run inside .venv."""

import datetime


def when(ts: float | None) -> str:
    """A stored time as the CLIs list it (UTC, to the minute), or "never"."""
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC") if ts else "never"
