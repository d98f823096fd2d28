"""NovelAI stealth metadata: `stealth_pngcomp` hidden in the alpha channel's least significant bits."""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

from ...types import Media, MediaError, Signal
from .reading import _MAX_STEALTH_BYTES, _MAX_STEALTH_JSON, _Metadata, _STEALTH_MAGIC, _excerpt, _json_obj, _note
from .text import _is_novelai, _novelai_fields


# --- NovelAI stealth metadata ------------------------------------------------------------------------------------

def _lsb_bytes(alpha: np.ndarray, start_bit: int, n_bytes: int) -> bytes:
    """`n_bytes` from the alpha LSBs read column by column (NovelAI's order), starting at `start_bit`."""
    height = alpha.shape[0]
    end_bit = start_bit + 8 * n_bytes
    columns = alpha[:, : -(-end_bit // height)]
    bits = (columns.T.reshape(-1)[start_bit:end_bit] & 1).astype(np.uint8)
    return np.packbits(bits).tobytes()


def _stealth_findings(media: Media, meta: _Metadata) -> list[dict[str, Any]]:
    if media.format not in ("png", "webp") or meta.mode not in ("RGBA", "LA"):
        return []
    try:
        img = media.image()
    except MediaError as exc:
        _note(meta, "stealth alpha", exc)
        return []
    if "A" not in img.getbands():
        return []
    alpha = np.asarray(img.getchannel("A"))
    capacity = alpha.size // 8
    header = len(_STEALTH_MAGIC) + 4
    if capacity < header or _lsb_bytes(alpha, 0, len(_STEALTH_MAGIC)) != _STEALTH_MAGIC:
        return []
    n_bits = int.from_bytes(_lsb_bytes(alpha, 8 * len(_STEALTH_MAGIC), 4), "big")
    n_bytes = n_bits // 8
    finding: dict[str, Any] = {"kind": "stealth_pnginfo_alpha",
                               "field": f"{media.format.upper()}:alpha-LSB (stealth_pngcomp)",
                               "value": None, "ai": True, "signal": str(Signal.DECLARED_SYNTHETIC)}
    if not 0 < n_bytes <= min(_MAX_STEALTH_BYTES, capacity - header):
        finding["note"] = f"declared payload of {n_bits} bits is out of bounds"
        return [finding]
    payload = _lsb_bytes(alpha, 8 * header, n_bytes)
    try:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip
        raw = inflater.decompress(payload, _MAX_STEALTH_JSON)
        text = raw.decode("utf-8", "replace")
    except zlib.error as exc:
        finding["note"] = f"payload is not gzip: {exc}"
        return [finding]
    data = _json_obj(text)
    if data is not None and (_is_novelai(data) or "Comment" in data):
        finding.update(kind="novelai_stealth_pnginfo_alpha", value=_novelai_fields(data))
    else:
        finding["value"] = _excerpt(text)
    return [finding]
