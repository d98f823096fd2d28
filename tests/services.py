"""Real PostgreSQL and Redis servers for the tests (buildtasks/services.py starts them from Debian's packages).

`python3 build.py test` installs the packages (buildtasks/testing.py TEST_DEBS) and sets VERIFY_TEST_SERVICES=required,
so a missing server fails the run there; a bare `pytest` on a machine without them skips those tests instead.
"""

from __future__ import annotations

import os

import pytest

from buildtasks.services import Postgres, Redis, ServiceUnavailable, start_postgres, start_redis

__all__ = ["Postgres", "Redis", "ServiceUnavailable", "_unavailable", "start_postgres", "start_redis"]


def _unavailable(why: str) -> None:
    if os.environ.get("VERIFY_TEST_SERVICES") == "required":
        pytest.fail(f"{why} (build.py test installs it; VERIFY_TEST_SERVICES=required)", pytrace=False)
    pytest.skip(why)
