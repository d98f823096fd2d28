"""Every registered check honours the one contract, on every kind of media and on hostile bytes."""

from __future__ import annotations

import json

import pytest

from server.verify import CHECKS, DESCRIPTIONS, run_check
from server.verify.media import load_media
from server.verify.types import CheckResult, Limits, Outcome

SAMPLES = [
    "c2pa/adobe_firefly_2023_butterfly.jpg",
    "metadata/sd_webui_parameters.png",
    "c2pa/openai_dalle3_via_chatgpt.webp",
    "c2pa/testsigner_audio.wav",
    "c2pa/testsigner_algorithmic_media.mp3",
    "c2pa/testsigner_video.mp4",
    "photos/wiki_035.jpg",
]
HOSTILE = {
    "truncated_png": b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x0dIHDR" + b"\x00" * 5,
    "jpeg_header_only": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
    "riff_wave_garbage": b"RIFF\xff\xff\xff\xffWAVEfmt " + b"\xff" * 40,
    "ftyp_garbage": b"\x00\x00\x00\x18ftypisom" + b"\x00" * 40,
}


@pytest.mark.parametrize("name", list(CHECKS))
def test_contract_registry_names_match_results(name, media, ctx):
    result = CHECKS[name](media("photos/wiki_035.jpg"), ctx)
    assert isinstance(result, CheckResult)
    assert result.check == name
    assert DESCRIPTIONS[name]


@pytest.mark.parametrize("sample", SAMPLES)
@pytest.mark.parametrize("name", list(CHECKS))
def test_contract_result_is_json_safe_and_in_range(name, sample, media, ctx):
    result = run_check(name, CHECKS[name], media(sample), ctx, raise_errors=True)
    assert result.outcome in Outcome
    assert result.summary and isinstance(result.summary, str)
    assert result.score is None or 0.0 <= result.score <= 1.0
    json.dumps(result.to_json())  # evidence must serialise
    if result.signal is not None:
        assert result.outcome is Outcome.DETECTED


@pytest.mark.parametrize("blob", list(HOSTILE), ids=list(HOSTILE))
@pytest.mark.parametrize("name", list(CHECKS))
def test_contract_hostile_bytes_never_raise(name, blob, ctx):
    media = load_media(HOSTILE[blob], Limits())
    result = CHECKS[name](media, ctx)  # must return, not raise
    assert result.check == name
