"""av_labels: AI labels in audio/video container metadata (fixtures audio/labels)."""

from __future__ import annotations

import pytest

from server.verify.checks import av_labels
from server.verify.types import Outcome, Signal

from media_fixtures import expected

LABELS = [e for e in expected("audio")["files"] if e["category"] == "metadata_label"]


@pytest.mark.parametrize("entry", LABELS, ids=lambda e: e["file"])
def test_av_labels_fixture_matches_expected(entry, media, ctx):
    result = av_labels.check(media(f"audio/{entry['file']}"), ctx)
    want = entry["metadata_label"]
    if want["present"]:
        assert result.outcome is Outcome.DETECTED and result.signal is Signal.DECLARED_SYNTHETIC
        assert set(result.evidence["fields"]) == set(want["fields"])
    else:
        assert result.outcome is Outcome.NOT_DETECTED and result.signal is None


def test_av_labels_gb45438_aigc_parsed(media, ctx):
    result = av_labels.check(media("audio/labels/label_id3_aigc_gb45438_piper.mp3"), ctx)
    assert result.evidence["aigc"]["Label"] == "1"
    assert result.evidence["aigc"]["ContentProducer"] == "verity-fixtures"


@pytest.mark.parametrize("label,signal", [("1", Signal.DECLARED_SYNTHETIC), ("2", Signal.POSSIBLY_SYNTHETIC),
                                          ("3", Signal.POSSIBLY_SYNTHETIC)])
def test_find_labels_aigc_label_value_signal(label, signal):
    labels, fields, aigc = av_labels.find_labels({"AIGC": '{"AIGC":{"Label":"%s","ContentProducer":"x"}}' % label},
                                                 "ogg")
    assert [lb["signal"] for lb in labels] == [str(signal)] and "vorbis:AIGC" in fields


def test_find_labels_ordinary_tags_not_detected():
    tags = {"title": "Interview with the mayor", "artist": "City Radio", "encoder": "Lavf59.27.100",
            "comment": "Recorded live at the AI conference"}
    assert av_labels.find_labels(tags, "mp3")[0] == []


def test_find_labels_malformed_aigc_ignored():
    assert av_labels.find_labels({"AIGC": "{not json"}, "mp3")[0] == []


def test_av_labels_video_container_tag_detected():
    labels, fields, _ = av_labels.find_labels({"comment": "AI-generated video (text-to-video)"}, "mov,mp4,m4a,3gp,3g2,mj2")
    assert labels and "mp4:comment" in fields


def test_av_labels_image_unsupported(media, ctx):
    assert av_labels.check(media("c2pa/no_manifest.jpg"), ctx).outcome is Outcome.UNSUPPORTED
