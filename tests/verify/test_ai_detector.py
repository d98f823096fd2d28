"""ai_detector: pinned weights, the false-positive bar on held-out real photos, recall on AI fixtures, verdict rule."""

from __future__ import annotations

import dataclasses
import json

import pytest

from buildtasks import models as model_eval
from server.verify.checks import ai_detector, watermark
from server.verify import run_check
from server.verify.pipeline import verify
from server.verify.types import CheckContext, Outcome, Signal

SPEC = ai_detector.model_spec()
THRESHOLD = float(SPEC["threshold"])


@pytest.fixture(scope="module")
def detector():
    return ai_detector.shared()


@pytest.fixture(scope="module")
def heldout(detector):
    """Scores of the evaluation half of photos/ (never used to fit the threshold): name -> (as is, re-encoded)."""
    _, eval_names = model_eval.photo_split()
    return model_eval.scores(detector, eval_names)


def _with_threshold(detector, threshold: float):
    spec = json.loads(json.dumps(detector.spec))
    spec["threshold"] = threshold
    return dataclasses.replace(detector, spec=spec)


def test_ai_detector_installed_files_match_manifest_sha256():
    assert model_eval.verify() == []


def test_ai_detector_split_is_disjoint_halves():
    cal, ev = model_eval.photo_split()
    assert not set(cal) & set(ev)
    assert abs(len(cal) - len(ev)) <= 1 and len(cal) + len(ev) >= 100


def test_ai_detector_heldout_photos_fpr_at_most_1_percent(heldout):
    flagged = sorted(n for n, (s, _) in heldout.items() if s >= THRESHOLD)
    assert len(flagged) / len(heldout) <= 0.01, f"{len(flagged)}/{len(heldout)} held-out real photos flagged: {flagged}"


def test_ai_detector_heldout_reencoded_fpr_as_in_manifest(heldout):
    flagged = sum(r >= THRESHOLD for _, r in heldout.values())
    reported = SPEC["metrics"]["fpr_heldout_reencoded"]
    assert (flagged, len(heldout)) == (reported["k"], reported["n"]), (
        f"re-encoded: {flagged}/{len(heldout)} flagged; the manifest reports {reported['k']}/{reported['n']}")


def test_ai_detector_ai_fixture_recall_as_in_manifest(detector):
    got = model_eval.scores(detector, model_eval.AI_FIXTURES)
    hits = sum(s >= THRESHOLD for s, _ in got.values())
    reported = SPEC["metrics"]["recall_ai_fixtures"]
    assert (hits, len(got)) == (reported["k"], reported["n"]), (
        f"{hits}/{len(got)} AI fixtures flagged; the manifest reports {reported['k']}/{reported['n']}")


def test_ai_detector_below_threshold_no_signal_no_authenticity_claim(media, ctx):
    result = ai_detector.check(media("photos/wiki_035.jpg"), ctx)
    assert result.outcome is Outcome.NOT_DETECTED
    assert result.signal is None
    assert "says nothing about authenticity" in result.summary
    assert result.evidence["measured_fpr"]["n_real"] == SPEC["metrics"]["fpr_heldout"]["n"]


def test_ai_detector_alone_fires_likely_synthetic(media, detector):
    ctx = CheckContext(resources={"ai_detector": _with_threshold(detector, 0.0)})
    report = verify(media("photos/wiki_035.jpg"), ctx, {"watermark": watermark.check, "ai_detector": ai_detector.check})
    fired = report.checks[1]
    assert fired.signal is Signal.POSSIBLY_SYNTHETIC
    assert "held-out real photos" in fired.summary  # the measured FPR is stated with the score
    assert report.verdict.label == "likely_synthetic"


def test_ai_detector_with_declared_watermark_skipped_synthetic(media, detector):
    """A declared signal decides; the model is not run, so it cannot delay the declared result."""
    ctx = CheckContext(resources={"ai_detector": _with_threshold(detector, 0.0)})
    report = verify(media("watermark/elem_2_1024__sdxl.png"), ctx,
                    {"watermark": watermark.check, "ai_detector": ai_detector.check})
    assert report.verdict.label == "synthetic"
    assert [r["check"] for r in report.verdict.reasons] == ["watermark"]
    assert report.checks[1].outcome is Outcome.SKIPPED


def test_ai_detector_broken_model_error_keeps_declared_result(media, detector):
    class Broken:
        def run(self, *args, **kwargs):
            raise RuntimeError("onnxruntime failure")

    ctx = CheckContext(resources={"ai_detector": dataclasses.replace(detector, session=Broken())})
    assert run_check("ai_detector", ai_detector.check, media("photos/wiki_035.jpg"), ctx).outcome is Outcome.ERROR
    report = verify(media("watermark/elem_2_1024__clean.jpg"), ctx,
                    {"watermark": watermark.check, "ai_detector": ai_detector.check})
    assert [r.outcome for r in report.checks] == [Outcome.NOT_DETECTED, Outcome.ERROR]
    assert report.verdict.label == "unknown"
    assert "ai_detector" in report.verdict.summary


def test_ai_detector_audio_unsupported(media, ctx):
    assert ai_detector.check(media("c2pa/testsigner_audio.wav"), ctx).outcome is Outcome.UNSUPPORTED
