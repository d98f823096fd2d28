"""The registry's default set and its configuration (VERIFY_CHECKS / VERIFY_EXTRA_CHECKS), and the pipeline id."""

from __future__ import annotations

import pytest

from server import create_app
from server.verify import DEFAULT_CHECKS, active_checks, enabled_checks, pipeline_id, run_checks
from server.verify.registry import UnknownCheck


def test_registry_learned_detectors_off_by_default():
    assert "ai_detector" not in DEFAULT_CHECKS and "speech_detector" not in DEFAULT_CHECKS
    assert {"audio_cue", "visible_label", "watermark", "keyframes"} <= set(DEFAULT_CHECKS)
    assert enabled_checks() == DEFAULT_CHECKS


def test_registry_extra_checks_enable_in_registry_order():
    names = enabled_checks("", "speech_detector, ai_detector")
    assert names[-2:] == ("ai_detector", "speech_detector")
    assert pipeline_id(names) != pipeline_id() and "ai_detector" in pipeline_id(names)


def test_registry_checks_replace_default_set():
    assert enabled_checks("watermark,c2pa_manifest") == ("c2pa_manifest", "watermark")


def test_registry_unknown_check_refused():
    with pytest.raises(UnknownCheck):
        enabled_checks("", "no_such_check")


def test_registry_app_runs_configured_checks(tmp_path, media):
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "data"), "EXTRA_CHECKS": "ai_detector"})
    try:
        state = app.extensions["verify"]
        assert "ai_detector" in state.pipeline and "ai_detector" in active_checks(state.ctx)
        names = [r.check for r in run_checks(media("photos/wiki_035.jpg"), state.ctx)]
        assert "ai_detector" in names and "speech_detector" not in names
    finally:
        app.extensions["verify"].storage.close()


def test_registry_default_app_skips_learned_checks(ctx, media):
    names = [r.check for r in run_checks(media("photos/wiki_035.jpg"), ctx)]
    assert names == list(DEFAULT_CHECKS)
