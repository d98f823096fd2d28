"""Retention of verification records: old records (with their URLs) are deleted; recent ones stay; no other delete."""

from __future__ import annotations

import time

import pytest

from buildtasks import records as records_cli
from server import create_app
from server.retention import DAY_S, prune_records

ENGINES = ("sqlite", "postgresql")


def _record(storage, n: int) -> None:
    storage.add_record(f"{n:064x}", "image/jpeg", "unknown", "https://cdn.example/a.jpg", "https://news.example/s")


def test_records_prune_older_than_retention_deleted_recent_kept(app) -> None:
    storage = app.extensions["verify"].storage
    _record(storage, 0)
    first = storage.records()[0].time
    _record(storage, 1)
    second = storage.records()[0].time
    # Seen from a day after the midpoint between the two, with a one-day retention: only the first is old enough.
    assert prune_records(storage, 1, now=(first + second) / 2 + DAY_S) == (1 if second > first else 2)
    if second > first:
        assert [r.sha256 for r in storage.records()] == [f"{1:064x}"]
    assert prune_records(storage, 180) == 0


def test_records_outside_retention_still_append_only(app) -> None:
    storage = app.extensions["verify"].storage
    _record(storage, 0)
    with pytest.raises(storage.IntegrityError):
        with storage.transaction() as conn:
            conn.execute("DELETE FROM records")
    with pytest.raises(storage.IntegrityError):
        with storage.transaction() as conn:
            conn.execute("UPDATE records SET page_url = NULL")
    assert len(storage.records()) == 1


def test_records_prune_zero_days_keeps_everything(app) -> None:
    storage = app.extensions["verify"].storage
    _record(storage, 0)
    assert prune_records(storage, 0, now=time.time() + 1000 * DAY_S) == 0
    assert len(storage.records()) == 1
    with pytest.raises(ValueError):
        prune_records(storage, float("nan"))


def test_records_retention_applied_at_start_and_by_cli(app, monkeypatch, capsys) -> None:
    storage = app.extensions["verify"].storage
    _record(storage, 0)
    data_dir, url = str(app.extensions["verify"].settings.data_dir), app.config["DATABASE_URL"]
    again = create_app({"TESTING": True, "DATA_DIR": data_dir, "DATABASE_URL": url})  # default 180 days: kept
    again.extensions["verify"].storage.close()
    assert len(storage.records()) == 1
    time.sleep(0.05)
    again = create_app({"TESTING": True, "DATA_DIR": data_dir, "DATABASE_URL": url,
                        "RECORDS_RETENTION_DAYS": 0.01 / DAY_S})  # 10 ms
    again.extensions["verify"].storage.close()
    assert storage.records() == []
    _record(storage, 1)
    monkeypatch.setenv("VERIFY_DATA_DIR", data_dir)
    monkeypatch.setenv("VERIFY_DATABASE_URL", url)
    assert records_cli.main(["prune", "--days", "5"]) == 0
    assert "pruned 0 records older than 5 days" in capsys.readouterr().out
    time.sleep(0.05)
    assert records_cli.main(["prune", "--days", str(0.01 / DAY_S)]) == 0
    assert "pruned 1 records" in capsys.readouterr().out
    assert storage.records() == []
