"""The quality bar of debunked_match on ../shared/fixtures/refutation (README, expected.json): with the 40 originals in
the database, >= 95% of the variants in every edit family (plus a horizontal mirror made here) match their own original,
and <= 0.1% of lookups of photos not in the database (every file in photos/ and the near misses) match anything.

The fixture families are regression cases; the measure is the randomised part below (issue 13): every edit family of
buildtasks/media_edits.py with parameters drawn from its range under fixed seeds, and seeded unrelated pictures."""

from __future__ import annotations

import io
import zlib
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from buildtasks import media_edits
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


# --- randomised edit families (issue 13): parameters drawn from each family's range with printed seeds -------------

CI_SEEDS = (1301, 1302)  # the bench (`build.py bench refutation`) runs many more
PER_SEED = 4


def _family_cases(family: str, seed: int) -> list[tuple[Path, bytes, dict]]:
    """PER_SEED edited copies of database originals, drawn with `seed`."""
    rng = np.random.default_rng([seed, zlib.crc32(family.encode())])
    originals = sorted((REFUTATION / "originals").glob("*.jpg"))
    cases = []
    for k in range(PER_SEED):
        path = originals[int(rng.integers(0, len(originals)))]
        data, params = media_edits.edit(Image.open(path), family, int(rng.integers(0, 2**31)))
        cases.append((path, data, params))
    return cases


@pytest.mark.parametrize("family", list(media_edits.ALL_FAMILIES))
def test_debunked_match_random_edit_family_found(matcher: RefutationMatcher, family: str) -> None:
    """Every copy must match its own original; the message names each miss's seed and drawn parameters."""
    sha_of = {p.stem: load_media(p.read_bytes(), Limits()).sha256 for p in (REFUTATION / "originals").glob("*.jpg")}
    misses = []
    total = 0
    for seed in CI_SEEDS:
        for path, data, params in _family_cases(family, seed):
            total += 1
            if _matched_original(matcher, data) != sha_of[path.stem]:
                misses.append((path.name, params))
    # CI sees 8 copies per family: at most one miss (the bench measures recall with its bound on many more).
    assert len(misses) <= 1, f"{family}: {len(misses)}/{total} missed (seeds {CI_SEEDS}): {misses}"


def test_debunked_match_unrelated_generated_pictures_not_detected(matcher: RefutationMatcher) -> None:
    """Heavy crops and edits of real photos that are not in the database (seeded) match nothing."""
    photos = [p for p in sorted((FIXTURES / "photos").iterdir()) if p.suffix.lower() in (".jpg", ".jpeg", ".png")]
    false_matches = []
    for i, path in enumerate(photos[::2]):
        data, params = media_edits.unrelated(Image.open(path), CI_SEEDS[0] * 1000 + i)
        if _matched_original(matcher, data) is not None:
            false_matches.append((path.name, params))
    assert not false_matches, false_matches


def test_debunked_match_rotated_crop_evidence_has_region_and_transform(matcher: RefutationMatcher) -> None:
    path = REFUTATION / "originals" / "kodak_kodim23.jpg"
    img = Image.open(path).convert("RGB").rotate(7, resample=Image.BICUBIC, expand=True)
    w, h = img.size
    data = media_edits.encode(img.crop((int(w * 0.2), int(h * 0.15), w, h)))
    result = debunked_match.check(load_media(data, Limits()), CheckContext(resources={"refutations": matcher}))
    assert result.outcome is Outcome.DETECTED, result.summary
    match = result.evidence["refutation"]["match"]
    assert match["method"] in ("orb", "pdq+orb") and "rotated +7" in match["transform"], match
    x0, y0, x1, y1 = match["region"]["original"]
    assert x0 > 0.1 and y0 > 0.01 and x1 > 0.95 and y1 > 0.95, match["region"]  # left and top cut away
    assert abs(match["geometry"]["rotation_deg"] - 7) < 1.5
    assert result.evidence["inliers"] >= 15


def test_debunked_match_new_refutation_invalidates_cached_probe(tmp_path: Path) -> None:
    """A verdict cached before a refutation was added is revalidated when the new original could match through the
    keypoint stage, even far from every PDQ probe."""
    storage = SQLiteStorage(tmp_path / "db.sqlite3")
    m = RefutationMatcher(storage, tmp_path / "media")
    query = load_media((FIXTURES / "photos" / sorted(p.name for p in (FIXTURES / "photos").glob("*.jpg"))[0])
                       .read_bytes(), Limits())
    assert m.match(query) is None and query.match_probe
    _, item = describe_original((REFUTATION / "originals" / "kodak_kodim03.jpg").read_bytes(), Limits())
    storage.add_refutation(Refutation(0, "c", "False", "F"), [item])
    assert m.candidates_since(query.match_probe, 0) is True
    assert m.candidates_since([], 0) is False  # an exact match never changes
