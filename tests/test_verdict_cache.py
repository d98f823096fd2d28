"""The verdict cache revalidates against refutations added since a verdict was cached, instead of flushing: verdicts
a new refutation cannot change keep answering by hash; those it could change are recomputed (both engines)."""

from __future__ import annotations

import io
import json

import pytest

from server import create_app

from media_fixtures import FIXTURES

ENGINES = ("sqlite", "postgresql")
ORIGINALS = FIXTURES / "refutation" / "originals"
VARIANTS = FIXTURES / "refutation" / "variants"
UNRELATED = FIXTURES / "photos" / "budgie_beacon-street-sunset.jpg"
CLIP = FIXTURES / "video" / "match" / "originals" / "v01_bikes.mp4"
TOKEN = "cache-token"


@pytest.fixture
def api(tmp_path, database_url):
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "data"), "REFUTATION_TOKEN": TOKEN,
                      "DATABASE_URL": database_url})
    yield app.test_client()
    app.extensions["verify"].storage.close()


def _verify(client, data: bytes, mime: str = "image/jpeg"):
    response = client.post("/v1/verify", data=data, content_type=mime)
    assert response.status_code == 200, response.get_json()
    return response


def _refute(client, original: str) -> int:
    fields = {"claim": f"Old photo {original} shared as news", "rating": "False", "fact_checker": "Example Checks"}
    response = client.post("/v1/refutations", data={"refutation": json.dumps(fields),
                                                    "file": (io.BytesIO((ORIGINALS / original).read_bytes()), original)},
                           headers={"Authorization": f"Bearer {TOKEN}"}, content_type="multipart/form-data")
    assert response.status_code == 201, response.get_json()
    return int(response.get_json()["id"])


def _refute_file(client, path) -> int:
    fields = {"claim": f"Old clip {path.name} shared as news", "rating": "False", "fact_checker": "Example Checks"}
    response = client.post("/v1/refutations", data={"refutation": json.dumps(fields),
                                                    "file": (io.BytesIO(path.read_bytes()), path.name)},
                           headers={"Authorization": f"Bearer {TOKEN}"}, content_type="multipart/form-data")
    assert response.status_code == 201, response.get_json()
    return int(response.get_json()["id"])


def test_verdict_cache_image_verdict_survives_new_audio_refutation_200(api):
    sha = _verify(api, UNRELATED.read_bytes()).get_json()["sha256"]
    _refute_file(api, FIXTURES / "audio" / "match" / "originals" / "m01_hungarian_dance5_000-012.mp3")
    found = api.get(f"/v1/verdicts/{sha}")
    assert found.status_code == 200 and found.get_json()["refutation"] is None
    again = _verify(api, UNRELATED.read_bytes())
    assert again.headers["X-Verity-Cache"] == "hit"


def test_verdict_cache_image_verdict_recomputed_after_new_image_refutation(api):
    """Keypoint matching can join a copy to a new original at any PDQ distance, so a new image refutation may change
    any cached image verdict: it is recomputed (answered by upload), and then cached again."""
    sha = _verify(api, UNRELATED.read_bytes()).get_json()["sha256"]
    _refute(api, "kodak_kodim03.jpg")
    assert api.get(f"/v1/verdicts/{sha}").status_code == 404
    again = _verify(api, UNRELATED.read_bytes())
    assert again.headers["X-Verity-Cache"] == "miss" and again.get_json()["refutation"] is None
    assert api.get(f"/v1/verdicts/{sha}").status_code == 200


def test_verdict_cache_variant_cached_before_refutation_recomputed_with_it(api):
    variant = (VARIANTS / "kodak_kodim03__caption_below.jpg").read_bytes()
    sha = _verify(api, variant).get_json()["sha256"]
    assert api.get(f"/v1/verdicts/{sha}").status_code == 200
    rid = _refute(api, "kodak_kodim03.jpg")
    assert api.get(f"/v1/verdicts/{sha}").status_code == 404  # it could have changed: upload again
    after = _verify(api, variant)
    assert after.headers["X-Verity-Cache"] == "miss" and after.get_json()["refutation"]["id"] == rid
    assert api.get(f"/v1/verdicts/{sha}").get_json()["refutation"]["id"] == rid


def test_verdict_cache_same_bytes_refuted_later_recomputed(api):
    original = (ORIGINALS / "kodak_kodim03.jpg").read_bytes()
    sha = _verify(api, original).get_json()["sha256"]
    rid = _refute(api, "kodak_kodim03.jpg")
    assert api.get(f"/v1/verdicts/{sha}").status_code == 404
    assert _verify(api, original).get_json()["refutation"]["match"]["method"] == "sha256"
    assert api.get(f"/v1/verdicts/{sha}").get_json()["refutation"]["id"] == rid


def test_verdict_cache_video_verdict_recomputed_after_any_refutation(api):
    """Clips are matched by keyframes and fingerprints, not by the image probe: any new refutation re-verifies them."""
    sha = _verify(api, CLIP.read_bytes(), "video/mp4").get_json()["sha256"]
    assert api.get(f"/v1/verdicts/{sha}").status_code == 200
    _refute(api, "kodak_kodim03.jpg")
    assert api.get(f"/v1/verdicts/{sha}").status_code == 404


def test_verdict_cache_revalidated_verdict_marked_current(api):
    sha = _verify(api, UNRELATED.read_bytes()).get_json()["sha256"]
    _refute_file(api, FIXTURES / "audio" / "match" / "originals" / "m01_hungarian_dance5_000-012.mp3")
    state = api.application.extensions["verify"]
    assert state.storage.get_cached_verdict(sha, state.pipeline).generation < state.verdicts.generation().refuted
    assert api.get(f"/v1/verdicts/{sha}").status_code == 200
    assert state.storage.get_cached_verdict(sha, state.pipeline).generation == state.verdicts.generation().refuted