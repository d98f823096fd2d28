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
        trusted = ev.get("with_trust_bundle", {}).get("validation_state") == "Trusted"
        return Signal.PROVENANCE_VALID if trusted else Signal.PROVENANCE_UNTRUSTED
    if exp == "invalid":
        codes = ev.get("with_trust_bundle", {}).get("status_codes", [])
        cert_only = all(c.startswith(("signingCredential.", "timeStamp.")) for c in codes)
        if cert_only:
            return Signal.DECLARED_SYNTHETIC if ev.get("ai_basis") else Signal.PROVENANCE_UNTRUSTED
        return Signal.PROVENANCE_INVALID
    return None


def _expected_class(entry: dict) -> str | None:
    """The failure class the fixture's status codes (with the trust bundle) imply, read independently of the check."""
    ev = entry["evidence"].get("c2pa", {})
    trust = ev.get("with_trust_bundle", {})
    codes = trust.get("status_codes", [])
    if entry["expected"]["c2pa"] in ("absent", "remote_only") or (trust.get("validation_state") == "Trusted" and not codes):
        return None
    if any(c.endswith("Hash.mismatch") and not c.endswith("hashedURI.mismatch") for c in codes):
        return "content_altered"
    if any(not c.startswith(("signingCredential.", "timeStamp.", "cawg.x509.")) for c in codes):
        return "claim_altered"
    if "signingCredential.revoked" in codes:
        return "certificate_revoked"
    if "signingCredential.expired" in codes:
        return "certificate_expired"
    return "test_certificate" if ev.get("signer_issuer") == "C2PA Test Signing Cert" else "signer_untrusted"


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
    assert result.signal is Signal.PROVENANCE_UNTRUSTED
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


# One summary per failure class, on every C2PA fixture: the verdict says what was found.
_CLASS_WORDS = {
    "content_altered": ("altered after it was signed",),
    "claim_altered": ("altered or damaged after signing",),
    "certificate_expired": ("certificate had expired", "not found altered"),
    "certificate_revoked": ("revoked", "not found altered"),
    "test_certificate": ("public C2PA test certificate", "anyone can use"),
    "signer_untrusted": ("no trust list vouches for the signer",),
}


@pytest.mark.parametrize("entry", C2PA, ids=[e["file"] for e in C2PA])
def test_c2pa_manifest_fixture_failure_class_summary(entry, media, ctx):
    from server.verify.verdict import PROVENANCE_SUMMARIES, decide

    result = c2pa_manifest.check(media(entry["file"]), ctx)
    cls = _expected_class(entry)
    assert result.evidence.get("failure_class") == cls, result.evidence.get("failure_codes")
    if entry["expected"]["c2pa"] not in ("absent", "remote_only"):
        assert result.evidence["trusted"] is (cls is None)
    verdict = decide([result])
    if result.signal in (Signal.PROVENANCE_INVALID, Signal.PROVENANCE_UNTRUSTED):
        assert verdict.summary == PROVENANCE_SUMMARIES[cls]
        for words in _CLASS_WORDS[cls]:
            assert words in verdict.summary
    if cls in ("certificate_expired", "certificate_revoked", "test_certificate", "signer_untrusted"):
        assert "altered after" not in verdict.summary  # a certificate-only finding never reads as tampering
    if result.signal is Signal.PROVENANCE_VALID:
        assert verdict.label == "has_provenance" and result.evidence["validation_state"] == "Trusted"


def test_c2pa_manifest_test_certificate_named_untrusted(media, ctx):
    from server.verify.verdict import decide

    result = c2pa_manifest.check(media("c2pa/testsigner_CA.jpg"), ctx)
    assert result.signal is Signal.PROVENANCE_UNTRUSTED
    assert result.evidence["test_certificate"] is True and result.evidence["trusted"] is False
    assert "public C2PA test certificate" in result.summary
    assert decide([result]).label == "untrusted_provenance"


def test_c2pa_manifest_expired_camera_cert_not_tampering(media, ctx):
    from server.verify.verdict import decide

    result = c2pa_manifest.check(media("c2pa/nikon_z9_camera_expired_cert.jpeg"), ctx)
    verdict = decide([result])
    assert verdict.label == "untrusted_provenance"
    assert "expired" in verdict.summary and "altered after" not in verdict.summary


def test_c2pa_manifest_failure_class_revoked_and_invalid_cert():
    """Certificate-only codes no fixture carries: revoked and other certificate failures have their own class."""
    fc = c2pa_manifest.failure_class
    assert fc("Invalid", ["signingCredential.revoked"], "X") == "certificate_revoked"
    assert fc("Invalid", ["signingCredential.invalid"], "X") == "certificate_invalid"
    assert fc("Invalid", ["timeStamp.mismatch"], "X") == "certificate_invalid"
    assert fc("Invalid", ["signingCredential.expired", "assertion.dataHash.mismatch"], "X") == "content_altered"
    assert fc("Valid", ["signingCredential.untrusted"], "C2PA Test Signing Cert") == "test_certificate"
    assert fc("Trusted", [], "X") is None


def test_c2pa_manifest_remote_manifest_fetched_when_allowed(media, ctx):
    """With a fetcher in the context (VERIFY_FETCH_REMOTE_MANIFESTS), the remote URL is fetched; its failure is a
    plain sentence, never a crash."""
    from dataclasses import replace

    from server.fetching import FetchNetworkError

    asked: list[str] = []

    def fetcher(url: str) -> bytes:
        asked.append(url)
        raise FetchNetworkError(url, f"The host name of {url} could not be found.")

    result = c2pa_manifest.check(media("c2pa/remote_manifest_only.jpg"),
                                 replace(ctx, resources={**ctx.resources, "remote_manifests": fetcher}))
    assert asked and asked[0].startswith("https://")
    assert result.outcome is Outcome.DETECTED and result.signal is None
    assert "could not be fetched: The host name" in result.summary
    off = c2pa_manifest.check(media("c2pa/remote_manifest_only.jpg"), ctx)
    assert off.evidence["remote_fetched"] is False and "not fetched" in off.summary
