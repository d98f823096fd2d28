"""`build.py bench storage`: the same storage code on SQLite and on PostgreSQL.

PostgreSQL is a throwaway cluster from Debian's `postgresql` package (buildtasks/services.py) with its durable
defaults (fsync on), on this machine, over TCP on loopback; SQLite is a file in a temporary folder (WAL). For each
engine: a cached verdict lookup, the identification record + audit entry every verification writes, a report with its
audit entry (durable, its head anchored in a file as in the app) from one thread and from eight at once, the start-up load of 1M PDQ hashes into the matcher,
and the revalidation of a cached verdict after new refutations against that index. Every write in the concurrent part must land and the audit chain must verify afterwards.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from server.audit import AuditLog
from server.reports.store import ReportStore
from server.storage import Refutation, SQLiteStorage, SQLStorage
from server.verdict_cache import VerdictCache
from server.verify.refutation_index import RefutationMatcher

N_LOOKUPS = 2000
N_RECORDS = 1000
N_REPORTS = 300
THREADS, PER_THREAD = 8, 60
N_HASHES = 1_000_000


def _ms(samples: list[float], q: float) -> float:
    return round(float(np.percentile(samples, q)) * 1000, 3)


def _report(store: ReportStore, sha: str, i: int) -> None:
    store.add_report(sha256=sha, media_type="image/png", pdq=None, has_bytes=False, category="synthetic",
                     text=f"bench report {i}", source_url=None, page_url=None, client="bench")


def seed_hashes(storage: SQLStorage, codes: np.ndarray) -> None:
    """One refutation with one media item holding `codes` ((n, 4) uint64) as PDQ hash rows, bulk-inserted."""
    rid = storage.add_refutation(Refutation(0, "bench", "False", "bench"), [])
    with storage.transaction() as conn:
        media_id = conn.execute("INSERT INTO refuted_media (refutation_id, sha256, media_type, created)"
                                " VALUES (?, ?, 'image/png', 0) RETURNING id", (rid, "0" * 64)).fetchone()[0]
    raw = codes.astype(">u8").view(np.uint8).reshape(-1, 32)
    if storage.dialect == "postgresql":
        with storage.transaction() as conn:  # COPY: how a platform would bulk-load an index
            with conn.raw.cursor().copy("COPY media_hashes (media_id, refutation_id, kind, region, hash)"
                                        " FROM STDIN") as copy:
                for i in range(len(raw)):
                    copy.write_row((media_id, rid, "pdq", "full", raw[i].tobytes()))
    else:
        with storage.transaction() as conn:
            conn.executemany("INSERT INTO media_hashes (media_id, refutation_id, kind, region, hash)"
                             " VALUES (?, ?, 'pdq', 'full', ?)", ((media_id, rid, raw[i].tobytes()) for i in range(len(raw))))


def measure(storage: SQLStorage, tmp: Path, name: str, results: dict[str, Any]) -> None:
    from .bench import figure

    # First without the audit anchor, for the cost of anchoring (one file replaced and flushed per durable append),
    # then as open_storage sets it up for the app, for everything below.
    unanchored = []
    store = ReportStore(storage, AuditLog(storage), tmp / f"{name}-media")
    for i in range(N_REPORTS):
        t = time.perf_counter()
        _report(store, f"{i % 50:064x}", i)
        unanchored.append(time.perf_counter() - t)
    figure(results, f"storage.{name}.report_durable_unanchored_p50_ms", _ms(unanchored, 50), "ms")
    storage.anchor_path = tmp / f"{name}-audit-anchor.json"
    audit = AuditLog(storage)
    store = ReportStore(storage, audit, tmp / f"{name}-media")
    storage.put_verdict("a" * 64, "bench", {"verdict": {"label": "unknown"}, "checks": [{"check": "x"}] * 10})

    lookups = []
    for _ in range(N_LOOKUPS):
        t = time.perf_counter()
        storage.get_verdict("a" * 64, "bench")
        lookups.append(time.perf_counter() - t)
    figure(results, f"storage.{name}.cached_lookup_p50_ms", _ms(lookups, 50), "ms")
    figure(results, f"storage.{name}.cached_lookup_p99_ms", _ms(lookups, 99), "ms")

    records = []
    for i in range(N_RECORDS):
        t = time.perf_counter()
        with storage.transaction(durable=False) as conn:
            storage.add_record("b" * 64, "image/jpeg", "unknown", None, None, True, conn=conn)
            audit.append("verification", "api", "sha256:" + "b" * 64, {"label": "unknown", "cached": True}, conn=conn)
        records.append(time.perf_counter() - t)
    figure(results, f"storage.{name}.record_and_audit_p50_ms", _ms(records, 50), "ms")
    figure(results, f"storage.{name}.record_and_audit_per_s", N_RECORDS / sum(records), "1/s")

    reports = []
    for i in range(N_REPORTS):
        t = time.perf_counter()
        _report(store, f"{i % 50:064x}", i)
        reports.append(time.perf_counter() - t)
    figure(results, f"storage.{name}.report_durable_p50_ms", _ms(reports, 50), "ms")
    figure(results, f"storage.{name}.report_durable_per_s", N_REPORTS / sum(reports), "1/s")

    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(PER_THREAD):
                _report(store, f"{(n * PER_THREAD + i) % 50:064x}", i)
        except BaseException as exc:  # noqa: BLE001 - counted below
            errors.append(exc)

    before = storage.connect().execute("SELECT count(*) FROM reports").fetchone()[0]
    threads = [threading.Thread(target=writer, args=(n,)) for n in range(THREADS)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    stored = storage.connect().execute("SELECT count(*) FROM reports").fetchone()[0] - before
    chain = audit.verify()
    figure(results, f"storage.{name}.reports_{THREADS}_threads_per_s", THREADS * PER_THREAD / elapsed, "1/s")
    results[f"storage.{name}.reports_{THREADS}_threads_lost"] = {
        "value": THREADS * PER_THREAD - stored, "unit": "reports", "target": "0", "errors": len(errors),
        "audit_chain_ok": chain.ok, "audit_entries": chain.entries}

    codes = np.random.default_rng(5).integers(0, 2**64, size=(N_HASHES, 4), dtype=np.uint64)
    seed_hashes(storage, codes)
    loads = []
    for _ in range(2):
        t = time.perf_counter()
        matcher = RefutationMatcher(storage, tmp / f"{name}-refuted")
        loads.append(time.perf_counter() - t)
        assert len(matcher) == N_HASHES

    # A cached verdict looked up after new refutations: revalidated with its probe (20 PDQ hashes, as a photo's
    # lookup searches with) against the 1M-hash index, then marked current.
    cache = VerdictCache(storage, "bench", matcher)
    rng = np.random.default_rng(9)
    probe = [rng.integers(0, 256, 32, dtype=np.uint8).tobytes().hex() for _ in range(20)]
    revalidations = []
    for i in range(50):
        storage.put_verdict(f"{i:063x}f", "bench", {"verdict": {"label": "unknown"}}, 0, {"pdq": probe})
        t = time.perf_counter()
        assert cache.get(f"{i:063x}f") is not None
        revalidations.append(time.perf_counter() - t)
    figure(results, f"storage.{name}.revalidate_1m_p50_ms", _ms(revalidations, 50), "ms")
    figure(results, f"storage.{name}.index_1m_load_s", min(loads), "s")


def run(results: dict[str, Any]) -> None:
    from .services import ServiceUnavailable, start_postgres

    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        lite = SQLiteStorage(Path(tmp) / "bench.sqlite3")
        measure(lite, Path(tmp), "sqlite", figures)
        lite.close()
        try:
            server = start_postgres(durable=True)
        except ServiceUnavailable as exc:
            print(f"storage bench: PostgreSQL skipped ({exc})")
        else:
            try:
                from server.storage.postgres import PostgresStorage

                pg = PostgresStorage(server.new_database())
                measure(pg, Path(tmp), "postgresql", figures)
                pg.close()
            finally:
                server.stop()
    results.update(figures)
    for key in sorted(figures):
        if key.startswith("storage.sqlite."):
            other = key.replace("storage.sqlite.", "storage.postgresql.")
            a, b = figures[key]["value"], figures.get(other, {}).get("value")
            ratio = f"{b / a:.2f}x" if isinstance(b, int | float) and a else ""
            print(f"{key.removeprefix('storage.sqlite.'):32} sqlite {a!s:>10}  postgresql {b!s:>10}  pg/sqlite {ratio}")
