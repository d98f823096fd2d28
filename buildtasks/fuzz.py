"""`build.py fuzz --minutes N [--target NAME] [--seconds S]`: coverage-guided fuzzing with atheris (libFuzzer).

The time is split evenly across the targets (buildtasks/fuzz_targets.py: image, av, claims). Each target's corpus
lives in .fuzz/<target>/corpus (gitignored) and is seeded at run time from ../shared/fixtures (small files, read in
place and copied there; never into the repository), so a later run continues from what earlier runs found.
Findings (crash-*, timeout-*, oom-*, slow-unit-*) land in .fuzz/<target>/findings; each one becomes a regression
test in tests/test_fuzz_regressions.py and gets fixed. The exit status is 1 when a run left a new finding.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures"
WORK = ROOT / ".fuzz"

IMAGE_EXT = {".jpg", ".jpeg", ".png", ".gif", ".webp", ".tif", ".tiff", ".bmp", ".heic", ".heif", ".avif"}
AV_EXT = {".wav", ".mp3", ".mp4", ".m4a", ".mov", ".webm", ".mkv", ".avi", ".flac", ".ogg", ".opus"}
SEED_MAX_BYTES = {"image": 48 * 1024, "av": 96 * 1024}
# libFuzzer bounds: the longest input it makes, a per-input time limit (hangs) and an RSS limit (memory blow-ups).
MAX_LEN = {"image": 64 * 1024, "av": 128 * 1024, "claims": 16 * 1024}
PER_INPUT_TIMEOUT_S = 60
RSS_LIMIT_MB = 3072
FINDING_PREFIXES = ("crash-", "timeout-", "oom-", "leak-", "slow-unit-")


def _claims_seeds() -> list[bytes]:
    """ClaimReview / MediaReview documents shaped like fact-checkers publish them (the claims tests' shapes)."""
    claim_review = {
        "@context": "https://schema.org", "@type": "ClaimReview", "url": "https://factcheck.example/otters",
        "claimReviewed": "These otters were rescued from last week's flood", "datePublished": "2026-10-02",
        "inLanguage": "en", "author": {"@type": "Organization", "name": "Example Checks"},
        "reviewRating": {"@type": "Rating", "ratingValue": 1, "alternateName": "False"},
        "reviewBody": "The photo was taken at a zoo in 2019.",
        "itemReviewed": {"@type": "Claim", "appearance": [{"@type": "ImageObject", "contentUrl": "a.jpg"}]},
    }
    media_review = {
        "@context": "https://schema.org", "@type": "MediaReview", "url": "https://factcheck.example/tea",
        "name": "Tea gardens shown as a disaster area", "author": [{"@type": "Person", "name": "示例核查"}],
        "mediaAuthenticityCategory": "OriginalMediaContent", "originalMediaContextDescription": "拍摄于2015年",
        "reviewRating": {"@type": "Rating", "alternateName": "Missing context"},
        "itemReviewed": {"@type": "MediaReviewItem", "contentUrl": "b.jpg",
                         "mediaItemAppearance": [{"@type": "ImageObjectSnapshot", "contentUrl": "c.jpg"}]},
    }
    plain = {"claim": "x", "rating": "False", "fact_checker": "Desk"}
    docs = [claim_review, media_review, {"@context": "https://schema.org", "@graph": [claim_review, media_review]},
            [claim_review], plain]
    return [json.dumps(d, ensure_ascii=False).encode() for d in docs]


def seed_files(target: str) -> list[Path]:
    """The fixture files that seed `target`: every small file of its kind, plus the smallest of each extension."""
    if target == "claims":
        return []
    exts = IMAGE_EXT if target == "image" else AV_EXT
    files = [p for p in sorted(FIXTURES.rglob("*")) if p.is_file() and p.suffix.lower() in exts]
    if target == "av":  # the deliberately broken files too, whatever their extension claims
        files += [p for p in sorted((FIXTURES / "audio" / "bad").glob("*")) + sorted((FIXTURES / "video" / "bad").glob("*"))
                  if p not in files]
    chosen = {p for p in files if p.stat().st_size <= SEED_MAX_BYTES[target]}
    smallest: dict[str, Path] = {}
    for p in files:
        ext = p.suffix.lower()
        if ext not in smallest or p.stat().st_size < smallest[ext].stat().st_size:
            smallest[ext] = p
    chosen |= set(smallest.values())
    return sorted(chosen)


def build_corpus(target: str) -> Path:
    """.fuzz/<target>/corpus with the seeds added (content-addressed names, like libFuzzer's own)."""
    corpus = WORK / target / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    blobs = _claims_seeds() if target == "claims" else [p.read_bytes()[: MAX_LEN[target]] for p in seed_files(target)]
    for blob in blobs:
        path = corpus / hashlib.sha1(blob).hexdigest()
        if not path.exists():
            path.write_bytes(blob)
    return corpus


def findings(target: str) -> list[Path]:
    folder = WORK / target / "findings"
    return sorted(p for p in folder.glob("*") if p.name.startswith(FINDING_PREFIXES)) if folder.exists() else []


def run_target(target: str, seconds: int, workers: int = 1) -> dict[str, object]:
    """Fuzz one target for `seconds`; returns its figures."""
    corpus = build_corpus(target)
    out = WORK / target / "findings"
    out.mkdir(parents=True, exist_ok=True)
    before = set(findings(target))
    log = WORK / target / "last-run.log"
    # libFuzzer's fork mode re-executes argv[0] for each job: an executable wrapper that runs this target in the venv.
    wrapper = WORK / target / "run.sh"
    wrapper.write_text(f'#!/bin/sh\ncd "{ROOT}" && exec "{sys.executable}" -m buildtasks.fuzz_targets {target} "$@"\n')
    wrapper.chmod(0o755)
    args = [str(wrapper), str(corpus),
            f"-max_total_time={seconds}", f"-max_len={MAX_LEN[target]}", f"-timeout={PER_INPUT_TIMEOUT_S}",
            f"-rss_limit_mb={RSS_LIMIT_MB}", f"-artifact_prefix={out}/", "-print_final_stats=1",
            # fork mode keeps going after a crash, a hang or an OOM, so one run can find more than one bug
            f"-fork={workers}", "-ignore_crashes=1", "-ignore_timeouts=1", "-ignore_ooms=1"]
    started = time.monotonic()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VERITY_FUZZ_ARGV0": str(wrapper)}
    hung = False
    with log.open("w") as fh:
        proc = subprocess.Popen(args, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            proc.wait(timeout=seconds + PER_INPUT_TIMEOUT_S * 3 + 120)
        except subprocess.TimeoutExpired:
            # a job stuck in native code (where atheris's per-input alarm cannot fire): stop the whole group
            hung = True
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    text = log.read_text(errors="replace")
    # fork mode prints "#<executions>: cov: ..." as it goes; the last line has the total
    execs = max((int(m.group(1)) for m in re.finditer(r"^#(\d+):", text, re.M)), default=0)
    new = sorted(set(findings(target)) - before)
    return {"target": target, "seconds": round(time.monotonic() - started), "executions": execs,
            "corpus": len(list(corpus.iterdir())), "new_findings": [str(p) for p in new],
            "exit": proc.returncode, "hung": hung, "log": str(log)}


def _set_work(folder: Path) -> None:
    global WORK  # noqa: PLW0603 - the one place the working folder is chosen
    WORK = folder


def main(argv: list[str]) -> int:
    from .fuzz_targets import TARGETS

    parser = argparse.ArgumentParser(prog="build.py fuzz", description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="total time, split across the targets")
    parser.add_argument("--seconds", type=int, help="time per target (overrides --minutes)")
    parser.add_argument("--target", choices=list(TARGETS), action="append", help="one target (repeatable); default all")
    parser.add_argument("--workers", type=int, default=1, help="libFuzzer -fork processes per target")
    parser.add_argument("--work", type=Path, default=None, help="corpus and findings folder (default .fuzz/)")
    args = parser.parse_args(argv)
    if args.work is not None:
        _set_work(args.work.resolve())
    targets = args.target or list(TARGETS)
    per_target = args.seconds or max(10, int(args.minutes * 60 / len(targets)))
    report = []
    for target in targets:
        print(f"== fuzz {target}: {per_target} s", flush=True)
        figures = run_target(target, per_target, args.workers)
        report.append(figures)
        print(json.dumps(figures, indent=1), flush=True)
    found = [f for r in report for f in r["new_findings"]]  # type: ignore[attr-defined]
    print(f"\n{'target':<8} {'seconds':>8} {'execs':>9} {'corpus':>7}  new findings")
    for r in report:
        print(f"{r['target']:<8} {r['seconds']:>8} {r['executions']:>9} {r['corpus']:>7}  {len(r['new_findings'])}")  # type: ignore[arg-type]
    if found:
        print("\nnew findings (replay: .venv/bin/python -m buildtasks.fuzz_targets TARGET FILE):")
        for f in found:
            print("  " + f)
        return 1
    return 0


def clean() -> None:
    """Remove the working corpus (not used by the build; handy by hand)."""
    shutil.rmtree(WORK, ignore_errors=True)
