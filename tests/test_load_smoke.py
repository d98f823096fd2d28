"""A short version of `build.py bench --load` (its long run is in docs/deploy.md): the production server that
`build.py run` starts, under concurrent clients mixing every kind of request, answers them all without an error."""

from __future__ import annotations

import pytest

from buildtasks import bench_load


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_load_smoke_mixed_clients_no_errors(engine: str, monkeypatch: pytest.MonkeyPatch, request) -> None:
    if engine == "postgresql":
        request.getfixturevalue("postgres_server")  # skips (or fails under build.py test) without PostgreSQL
    monkeypatch.setenv("VERITY_LOAD_ENGINE", engine)
    monkeypatch.setattr(bench_load, "CLIENTS", 8)
    monkeypatch.setattr(bench_load, "DURATION_S", 8.0)
    monkeypatch.setattr(bench_load, "WARMUP_S", 2.0)
    monkeypatch.setattr(bench_load, "FRESH_IMAGES", 60)
    results: dict = {}
    bench_load.run(results)
    prefix = "load." if engine == "sqlite" else "load.postgresql."
    assert results[prefix + "errors"]["value"] == 0
    for kind in bench_load.MIX:
        assert results[f"{prefix}{kind}.count"]["value"] > 0, kind
