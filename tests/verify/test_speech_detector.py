"""speech_detector: pinned head, manifest numbers reproduce (eval features + audio fixtures), the weak-signal contract."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from buildtasks import models as model_eval
from buildtasks import speech_train
from server.verify.checks import av_labels, speech_detector
from server.verify import run_checks
from server.verify.pipeline import verify
from server.verify.types import CheckContext, Outcome, Signal

from media_fixtures import FIXTURES

SPEC = speech_detector.model_spec()
THRESHOLD = float(SPEC["threshold"])
METRICS = SPEC["metrics"]


@pytest.fixture(scope="module")
def head():
    return speech_detector.shared()


def _with_threshold(head, threshold: float):
    spec = json.loads(json.dumps(head.spec))
    spec["threshold"] = threshold
    return dataclasses.replace(head, spec=spec)


def test_speech_detector_head_and_eval_files_match_manifest_sha256():
    assert model_eval.verify() == []


def test_speech_detector_tampered_head_raises_integrity_error(tmp_path):
    spec = json.loads(json.dumps(SPEC))
    spec["source"]["files"]["head"]["sha256"] = "0" * 64
    with pytest.raises(speech_detector.ModelIntegrityError):
        speech_detector.load(spec)


def test_speech_detector_eval_subset_reproduces_manifest(head):
    """The final head's held-out-speaker FPR, held-out-text recall and AUC, recomputed from the committed features."""
    with np.load(speech_train.ROOT / SPEC["source"]["files"]["eval"]["path"]) as z:
        got = speech_train.eval_subset_metrics(head, THRESHOLD, z["x"], z["y"], z["kind"])
    for key in ("fpr_heldout_speakers", "recall_seen_generators_heldout_text"):
        assert (got[key]["k"], got[key]["n"]) == (METRICS[key]["k"], METRICS[key]["n"]), key
    assert got["auc_heldout"]["value"] == pytest.approx(METRICS["auc_heldout"]["value"], abs=1e-4)


def test_speech_detector_heldout_speaker_fpr_low(head):
    fpr = METRICS["fpr_heldout_speakers"]
    assert fpr["n"] >= 500 and fpr["value"] <= 0.05


def test_speech_detector_fixture_scores_reproduce_manifest(media, ctx):
    """Every human/synthetic speech fixture, decoded and scored through the check itself."""
    for rel, score in METRICS["fixture_scores"].items():
        result = speech_detector.check(media(f"audio/{rel}"), ctx)
        if score is None:
            assert result.outcome is Outcome.UNSUPPORTED, rel
        else:
            assert result.score == pytest.approx(score, abs=2e-3), rel
            assert result.outcome is (Outcome.DETECTED if score >= THRESHOLD else Outcome.NOT_DETECTED), rel


def test_speech_detector_below_threshold_no_signal_no_authenticity_claim(media, head):
    ctx = CheckContext(resources={"speech_detector": _with_threshold(head, 1.01)})
    result = speech_detector.check(media("audio/human/en_jfk_inaugural_1961.flac"), ctx)
    assert result.outcome is Outcome.NOT_DETECTED
    assert result.signal is None
    assert "says nothing about whether the voice is human" in result.summary
    assert result.evidence["measured_fpr"]["n"] == METRICS["fpr_heldout_speakers"]["n"]


def test_speech_detector_alone_fires_likely_synthetic(media, head):
    ctx = CheckContext(resources={"speech_detector": _with_threshold(head, 0.0)})
    report = verify(media("audio/synthetic/piper_joe_jfk.wav"), ctx, {"speech_detector": speech_detector.check})
    fired = report.checks[0]
    assert fired.signal is Signal.POSSIBLY_SYNTHETIC
    assert "real speakers it never heard" in fired.summary  # the measured FPR is stated with the score
    assert report.verdict.label == "likely_synthetic"


def test_speech_detector_with_declared_label_skipped(media, head):
    ctx = CheckContext(resources={"speech_detector": _with_threshold(head, 0.0)})
    results = run_checks(media("audio/labels/label_id3_aigc_gb45438_piper.mp3"), ctx,
                         {"av_labels": av_labels.check, "speech_detector": speech_detector.check})
    assert results[0].signal is Signal.DECLARED_SYNTHETIC
    assert results[1].outcome is Outcome.SKIPPED


@pytest.mark.parametrize("name", ["audio/match/nonmatch/n08_digital_silence_10s.mp3", "audio/bad/truncated_40pct.wav",
                                  "audio/bad/found_c2pa-rs_riff_bomb_1000.wav"])
def test_speech_detector_silence_or_damaged_no_signal(media, ctx, name):
    result = speech_detector.check(media(name), ctx)
    assert result.signal is None or result.outcome is Outcome.DETECTED
    assert result.outcome in (Outcome.UNSUPPORTED, Outcome.NOT_DETECTED, Outcome.DETECTED)


def test_speech_detector_silence_unsupported(media, ctx):
    assert speech_detector.check(media("audio/match/nonmatch/n08_digital_silence_10s.mp3"), ctx).outcome \
        is Outcome.UNSUPPORTED


def test_speech_detector_image_unsupported(media, ctx):
    assert speech_detector.check(media("photos/wiki_035.jpg"), ctx).outcome is Outcome.UNSUPPORTED


def test_speech_detector_features_shape_and_short_clip():
    t = np.arange(speech_detector.RATE) / speech_detector.RATE
    tone = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    assert speech_detector.features(tone).shape == (387,)
    assert speech_detector.features(tone[:1000]) is None
    assert FIXTURES.is_dir()


@pytest.mark.parametrize("name", ["video/av/av_bikes_with_human_speech.mp4", "video/av/av_bikes_with_synthetic_speech.mp4"])
def test_speech_detector_video_soundtrack_scored(media, ctx, name):
    result = speech_detector.check(media(name), ctx)
    assert result.outcome in (Outcome.DETECTED, Outcome.NOT_DETECTED)
    assert 0.0 <= result.score <= 1.0 and result.evidence["analysed_s"] > 1.0
