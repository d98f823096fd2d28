"""The quality bar of debunked_match on ../shared/fixtures/refutation (README, expected.json): with the 40 originals in
the database, >= 95% of the variants in every edit family (plus a horizontal mirror made here) match their own original,
and <= 0.1% of lookups of photos not in the database (every file in photos/ and the near misses) match anything."""

from __future__ import annotations

import io
from collections import defaultdict
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from server.storage import Refutation, SQLiteStorage
from server.verify.checks import debunked_match
from server.verify.media import load_media
from server.verify.refutation_index import RefutationMatcher, describe_original
from server.verify.types import CheckContext, Limits, Outcome

from media_fixtures import FIXTURES, expected

REFUTATION = FIXTURES / "refutation"


def _mirror(path: Path) -> bytes:
    out = io.BytesIO()
    ImageOps.mirror(Image.open(path).convert("RGB")).save(out, "JPEG", quality=90)
    return out.getvalue()


@pytest.fixture(scope="module")
def matcher(tmp_path_factory: pytest.TempPathFactory) -> RefutationMatcher:
    """A database holding every fixture original, one refutation each."""
    data = tmp_path_factory.mktemp("refute")
    storage = SQLiteStorage(data / "db.sqlite3")
    m = RefutationMatcher(storage, data / "media")
    batch = []
    for path in sorted((REFUTATION / "originals").glob("*.jpg")):
        raw = path.read_bytes()
        _, item = describe_original(raw, Limits())
        m.store_file(raw, item.stored_name or "")
        batch.append((Refutation(0, f"claim about {path.stem}", "False", "Test Checkers"), [item]))
    storage.add_refutations(batch)
    m.sync()
    return m


def _matched_original(matcher: RefutationMatcher, data: bytes) -> str | None:
    m = matcher.match(load_media(data, Limits()))
    if m is None:
        return None
    return m.media.sha256


def test_debunked_match_fixture_families_meet_quality_bar(matcher: RefutationMatcher) -> None:
    sha_of = {p.stem: load_media(p.read_bytes(), Limits()).sha256 for p in (REFUTATION / "originals").glob("*.jpg")}
    hits: dict[str, list[bool]] = defaultdict(list)
    for entry in expected("refutation"):
        target = entry["expected"]["match_of"]
        if not entry["file"].startswith("refutation/variants/"):
            continue
        family = Path(entry["file"]).stem.split("__")[1]
        got = _matched_original(matcher, (FIXTURES / entry["file"]).read_bytes())
        hits[family].append(got == sha_of[Path(target).stem])
    for path in sorted((REFUTATION / "originals").glob("*.jpg")):
        hits["mirror"].append(_matched_original(matcher, _mirror(path)) == sha_of[path.stem])
    recall = {family: sum(v) / len(v) for family, v in hits.items()}
    assert len(recall) == 8 and all(len(v) == 40 for v in hits.values())
    assert all(r >= 0.95 for r in recall.values()), recall


def test_debunked_match_photos_not_in_database_not_detected(matcher: RefutationMatcher) -> None:
    negatives = sorted((FIXTURES / "refutation" / "near_miss").glob("*")) + sorted((FIXTURES / "photos").iterdir())
    negatives = [p for p in negatives if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp")]
    false_matches = [p.name for p in negatives if _matched_original(matcher, p.read_bytes()) is not None]
    assert len(negatives) >= 150
    assert len(false_matches) / len(negatives) <= 0.001, false_matches


def test_debunked_match_exact_bytes_detected_with_refutation(matcher: RefutationMatcher) -> None:
    path = sorted((REFUTATION / "originals").glob("*.jpg"))[0]
    result = debunked_match.check(load_media(path.read_bytes(), Limits()), CheckContext(resources={"refutations": matcher}))
    assert result.outcome is Outcome.DETECTED
    refutation = result.evidence["refutation"]
    assert refutation["match"]["method"] == "sha256" and refutation["claim"] == f"claim about {path.stem}"
    assert refutation["match"]["original_url"].startswith(f"/v1/refutations/{refutation['id']}/media/")


def test_debunked_match_without_database_not_detected(media) -> None:
    result = debunked_match.check(media("refutation/originals/kodak_kodim03.jpg"), CheckContext())
    assert result.outcome is Outcome.NOT_DETECTED


def test_debunked_match_refutation_written_later_searchable_at_once(tmp_path: Path) -> None:
    storage = SQLiteStorage(tmp_path / "db.sqlite3")
    m = RefutationMatcher(storage, tmp_path / "media")
    original = REFUTATION / "originals" / "kodak_kodim03.jpg"
    variant = (REFUTATION / "variants" / "kodak_kodim03__banner_top.jpg").read_bytes()
    assert _matched_original(m, variant) is None
    # written through a second matcher (another worker process); this one must see it on its next lookup
    other = RefutationMatcher(SQLiteStorage(tmp_path / "db.sqlite3"), tmp_path / "media")
    _, item = describe_original(original.read_bytes(), Limits())
    other.store_file(original.read_bytes(), item.stored_name or "")
    storage.add_refutation(Refutation(0, "c", "False", "F"), [item])
    assert _matched_original(m, variant) == item.sha256
