"""c2pa_manifest on audio and video containers (fixtures audio/c2pa, video/c2pa and their expected.json)."""

from __future__ import annotations

import pytest

from server.verify.checks import c2pa_manifest
from server.verify.types import Outcome

from media_fixtures import expected

CASES = [(kind, e) for kind in ("audio", "video") for e in expected(kind)["files"] if e["category"] == "c2pa"]


@pytest.mark.parametrize("kind,entry", CASES, ids=lambda x: x["file"] if isinstance(x, dict) else x)
def test_c2pa_manifest_av_fixture_matches_expected(kind, entry, media, ctx):
    result = c2pa_manifest.check(media(f"{kind}/{entry['file']}"), ctx)
    want = entry["c2pa"]
    if not want["present"]:
        assert result.outcome is Outcome.NOT_DETECTED
        return
    assert result.outcome is Outcome.DETECTED
    hard = {c for c in want["status_codes"] if not c.startswith(("signingCredential.", "timeStamp."))}
    assert hard <= set(result.evidence["failure_codes"])
    declared = {c2pa_manifest.source_type_name(d["digitalSourceType"]) for d in result.evidence["digital_source_types"]}
    assert {c2pa_manifest.source_type_name(u) for u in want["digital_source_type"]} <= declared
