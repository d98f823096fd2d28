"""c2pa_manifest on the real C2PA fixtures, with the bundled trust configuration."""

from __future__ import annotations

import pytest
from media_fixtures import expected

from server.verify.checks import c2pa_manifest
from server.verify.types import Outcome, Signal

C2PA = [e for e in expected("c2pa")]


def _expected_signal(entry: dict) -> Signal | None:
    exp, ev = entry["expected"]["c2pa"], entry["evidence"].get("c2pa", {})
    if exp == "valid_ai":
        return Signal.DECLARED_SYNTHETIC
    if exp == "valid_not_ai":
        return Signal.PROVENANCE_VALID
    if exp == "invalid":
        codes = ev.get("with_trust_bundle", {}).get("status_codes", [])
        cert_only = all(c.startswith(("signingCredential.", "timeStamp.")) for c in codes)
        return Signal.DECLARED_SYNTHETIC if ev.get("ai_basis") and cert_only else Signal.PROVENANCE_INVALID
    return None


@pytest.mark.parametrize("entry", C2PA, ids=[e["file"] for e in C2PA])
def test_c2pa_manifest_fixture_expected_signal(entry, media, ctx):
    result = c2pa_manifest.check(media(entry["file"]), ctx)
    assert result.check == "c2pa_manifest"
    assert result.signal == _expected_signal(entry), result.summary
    ev = entry["evidence"].get("c2pa", {})
    if entry["expected"]["c2pa"] in ("absent",):
        assert result.outcome is Outcome.NOT_DETECTED
    elif entry["expected"]["c2pa"] == "remote_only":
        assert result.outcome is Outcome.DETECTED
        assert result.evidence["remote_url"].startswith("https://")
    else:
        assert result.outcome is Outcome.DETECTED
        assert result.evidence["validation_state"] == ev["with_trust_bundle"]["validation_state"]
        assert result.evidence["signer"]["issuer"] == ev["signer_issuer"]
        assert result.evidence["claim_generator"] == ev["claim_generator"]
        assert result.evidence["manifests"] == ev["manifests"]
        assert set(result.evidence["ai_basis"]) == set(ev["ai_basis"])
        assert ev["signer_issuer"] in result.summary


def test_c2pa_manifest_trusted_signer_reads_trusted(media, ctx):
    result = c2pa_manifest.check(media("c2pa/adobe_firefly_2023_butterfly.jpg"), ctx)
    assert result.evidence["validation_state"] == "Trusted"
    assert result.evidence["failure_codes"] == []
    assert result.evidence["digital_source_types"] == [
        {"manifest": "active", "action": "c2pa.created", "digitalSourceType": "trainedAlgorithmicMedia",
         "via": "digitalSourceType"}]


def test_c2pa_manifest_ingredient_declaration_synthetic(media, ctx):
    result = c2pa_manifest.check(media("c2pa/openai_dalle3_via_chatgpt.webp"), ctx)
    assert result.signal is Signal.DECLARED_SYNTHETIC
    assert "ingredient" in result.summary
    assert result.evidence["ingredients"][0]["has_manifest"] is True


def test_c2pa_manifest_expired_cert_ai_keeps_synthetic_with_reason(media, ctx):
    result = c2pa_manifest.check(media("c2pa/openai_gpt4o_expired_cert.png"), ctx)
    assert result.signal is Signal.DECLARED_SYNTHETIC
    assert result.evidence["certificate_only_failures"] is True
    assert "signingCredential.expired" in result.summary


def test_c2pa_manifest_leading_space_source_type_not_ai(media, ctx):
    result = c2pa_manifest.check(media("c2pa/testsigner_digital_capture_cawg.jpg"), ctx)
    assert result.signal is Signal.PROVENANCE_VALID
    assert {d["digitalSourceType"] for d in result.evidence["digital_source_types"]} == {"digitalCapture"}


def test_c2pa_manifest_default_settings_untrusted(media):
    """Without the trust bundle the same file is only Valid: the bundle is what makes signers Trusted."""
    from server.verify.types import CheckContext

    result = c2pa_manifest.check(media("c2pa/adobe_firefly_2023_butterfly.jpg"), CheckContext())
    assert result.evidence["validation_state"] == "Valid"
    assert "signingCredential.untrusted" in result.evidence["failure_codes"]


@pytest.mark.parametrize("name", ["photos/wiki_035.jpg", "photos/kodak_kodim04.jpg"])
def test_c2pa_manifest_plain_photo_not_detected(name, media, ctx):
    assert c2pa_manifest.check(media(name), ctx).outcome is Outcome.NOT_DETECTED


def test_c2pa_manifest_garbage_after_jpeg_magic_no_crash(ctx):
    from server.verify.media import load_media
    from server.verify.types import Limits

    result = c2pa_manifest.check(load_media(b"\xff\xd8\xff\xe0" + b"\x00" * 64, Limits()), ctx)
    assert result.outcome in (Outcome.NOT_DETECTED, Outcome.DETECTED, Outcome.UNSUPPORTED)


def test_c2pa_manifest_unparseable_container_unsupported_no_signal(media, ctx):
    """c2pa-rs cannot parse this WAV's RIFF structure: that is no evidence of a broken manifest."""
    result = c2pa_manifest.check(media("audio/bad/found_c2pa-rs_sample3.invalid.wav"), ctx)
    assert result.outcome is Outcome.UNSUPPORTED
    assert result.signal is None
    assert "RIFF" in result.evidence["error"]
