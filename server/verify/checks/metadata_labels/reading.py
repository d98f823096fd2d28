"""Reading what metadata a file carries (XMP, EXIF, PNG text, JPEG comment), bounded, before interpretation."""

from __future__ import annotations

import io
import json
import re
import struct
from dataclasses import dataclass, field
from typing import Any

import pyexiv2
from PIL import Image, PngImagePlugin

from ..c2pa_manifest import AI_SOURCE_TYPES
from ...types import Media, Signal


# exiv2 prints its warnings (odd IFD pointers and the like, common in real photos) to stdout; errors still raise.
# This is process-wide, like every exiv2 setting.
pyexiv2.set_log_level(3)

_NS_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_NS_IPTC_EXT = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
_NS_TC260 = "http://www.tc260.org.cn/ns/AIGC/1.0/"
_NS_PHOTOSHOP = "http://ns.adobe.com/photoshop/1.0/"
_NS_DC = "http://purl.org/dc/elements/1.1/"
_NS_XMP = "http://ns.adobe.com/xap/1.0/"

# Bounds on untrusted metadata.
_MAX_XMP_CHARS = 1 << 20          # an XMP packet we are willing to parse
_MAX_TEXT_CHARS = 256 << 10       # one text field we pattern-match
_MAX_JSON_CHARS = 4 << 20         # one JSON value (ComfyUI graphs run to hundreds of KB)
_MAX_PNG_CHUNKS = 4096            # chunks walked in one PNG
_MAX_STEALTH_BYTES = 1 << 20      # compressed stealth payload
_MAX_STEALTH_JSON = 1 << 20       # decompressed stealth payload
_EXCERPT = 300                    # characters of a text value kept in evidence

_GB45438_FIELDS = ("Label", "ContentProducer", "ProduceID", "ReservedCode1", "ContentPropagator", "PropagateID",
                   "ReservedCode2")
_GB45438_LABELS = {"1": (Signal.DECLARED_SYNTHETIC, "AI-generated"),
                   "2": (Signal.POSSIBLY_SYNTHETIC, "possibly AI-generated"),
                   "3": (Signal.POSSIBLY_SYNTHETIC, "suspected AI-generated")}
# A1111/Forge: the last line of the infotext; "Steps", "Sampler" and "CFG scale" always appear in this order.
_SD_PARAMS = re.compile(r"(?m)^Steps: \d+, Sampler: [^\n]{1,200}?\bCFG scale: \d")
_MJ_JOB = re.compile(r"Job ID:\s*[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
_MJ_VERSION = re.compile(r"(?:^|\s)--(?:v|version|niji)\s+\d", re.I)
_STEALTH_MAGIC = b"stealth_pngcomp"
# Generator names seen in Software-like fields of real generator output (NovelAI writes PNG Software "NovelAI").
_GENERATOR_SOFTWARE = {"novelai": "NovelAI"}
_GOOGLE_AI_CREDIT = "made with google ai"
_XMP_START = re.compile(r"<(?:[\w.-]+:)?(?:xmpmeta|RDF)\b")
_XMP_END = re.compile(r"</(?:[\w.-]+:)?(?:xmpmeta|RDF)\s*>")

_AI_SOURCE_TYPES_LOWER = frozenset(t.lower() for t in AI_SOURCE_TYPES)
# The XMP properties read, as (namespace, lower-case name).
_XMP_WANTED = {(_NS_IPTC_EXT, "digitalsourcetype"), (_NS_IPTC_EXT, "digitalsourcefiletype"), (_NS_TC260, "aigc"),
               (_NS_PHOTOSHOP, "credit"), (_NS_DC, "description"), (_NS_XMP, "creatortool")}
_MAX_XMP_PROPERTIES = 64
_MAX_XMP_DESCENDANTS = 64

_STRENGTH = {Signal.DECLARED_SYNTHETIC: 2, Signal.POSSIBLY_SYNTHETIC: 1}


@dataclass(slots=True)
class _Metadata:
    """What could be read from the file, before interpretation."""

    xmp: list[tuple[str, str]] = field(default_factory=list)      # (source, packet)
    exif: dict[str, str] = field(default_factory=dict)            # Software, ImageDescription, UserComment
    text: dict[str, str] = field(default_factory=dict)            # PNG tEXt/zTXt/iTXt
    comment: str = ""                                             # JPEG COM segment
    mode: str | None = None
    readable: bool = False
    notes: list[str] = field(default_factory=list)


def _excerpt(text: str, limit: int = _EXCERPT) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _note(meta: _Metadata, where: str, exc: BaseException) -> None:
    meta.notes.append(_excerpt(f"{where}: {type(exc).__name__}: {exc}".strip(), 200))


def _demojibake(text: str) -> str:
    """PNG tEXt is Latin-1 by spec, but generators (Midjourney among them) write UTF-8 there: undo the mis-decoding."""
    try:
        return text.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return text


def _json_obj(text: Any) -> dict[str, Any] | None:
    """A JSON object from untrusted text, or None."""
    if isinstance(text, dict):
        return text
    if not isinstance(text, str) or len(text) > _MAX_JSON_CHARS or not text.lstrip().startswith("{"):
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


# --- reading -------------------------------------------------------------------------------------------------------

class _ImageData(pyexiv2.ImageData):
    """pyexiv2.ImageData that frees its native copy of the bytes when exiv2 fails to parse them (upstream leaks it:
    the copy is made before the parse and only `close()` frees it, which a failed constructor never reaches)."""

    def __init__(self, data: bytes) -> None:
        try:
            super().__init__(data)
        except Exception:
            buffer = getattr(self, "buffer", None)
            if buffer is not None:
                buffer.destroy()
            raise


def _exiv2_read(data: bytes) -> tuple[str, dict[str, Any]]:
    """The XMP packet and EXIF values as exiv2 reads them.

    Latin-1 keeps every byte (pyexiv2 decodes strictly and would fail on one odd EXIF string); values are re-decoded
    where they are used.
    """
    img = _ImageData(data)
    try:
        packet = img.read_raw_xmp(encoding="latin-1").encode("latin-1").decode("utf-8", "replace")
        exif = img.read_exif(encoding="latin-1")
    finally:
        img.close()
    return packet, exif


def _exif_from_exiv2(raw: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, name in (("Exif.Image.Software", "Software"), ("Exif.Image.ImageDescription", "ImageDescription"),
                      ("Exif.Photo.UserComment", "UserComment")):
        value = raw.get(key)
        if isinstance(value, list):
            value = value[0] if value else None
        if not isinstance(value, str) or not value.strip():
            continue
        if name == "UserComment":
            out[name] = _exiv2_user_comment(value)
        else:
            out[name] = _demojibake(value).strip("\0 \t\r\n")
    return out


def _exiv2_user_comment(value: str) -> str:
    """exiv2 shows UserComment as `charset=X text` when typed as a comment, else as decimal byte values."""
    if re.fullmatch(r"\d{1,3}(?: \d{1,3})*", value[: _MAX_TEXT_CHARS * 4]):
        try:
            return _decode_user_comment(bytes(int(b) for b in value.split()[: _MAX_TEXT_CHARS * 2]))
        except ValueError:
            return ""
    return _demojibake(re.sub(r"^charset=\w+\s?", "", value)).strip("\0 \t\r\n")


def _decode_user_comment(raw: bytes) -> str:
    """EXIF UserComment: an 8-byte character code, then the text (EXIF 2.32, 4.6.5)."""
    head, body = raw[:8], raw[8: 8 + 2 * _MAX_TEXT_CHARS]
    if head == b"UNICODE\0":
        if body[:2] in (b"\xfe\xff", b"\xff\xfe"):
            text = body.decode("utf-16", "replace")
        else:
            # EXIF means the file's byte order, but the SD WebUI (piexif) always writes UTF-16-BE and other tools
            # little-endian: keep the reading that gives text rather than CJK noise.
            be, le = body.decode("utf-16-be", "replace"), body.decode("utf-16-le", "replace")
            text = be if sum(c < "\x80" for c in be) >= sum(c < "\x80" for c in le) else le
    elif head == b"JIS\0\0\0\0\0":
        text = body.decode("shift_jis", "replace")
    elif head in (b"ASCII\0\0\0", b"\0" * 8):
        text = body.decode("utf-8", "replace")
    else:  # no character code at all: some tools write the bare text
        text = raw[: 2 * _MAX_TEXT_CHARS].decode("utf-8", "replace")
    return text.strip("\0 \t\r\n")


def _exif_from_pillow(raw: bytes) -> dict[str, str]:
    exif = Image.Exif()
    exif.load(raw)
    out: dict[str, str] = {}
    for tag, name in ((0x0131, "Software"), (0x010E, "ImageDescription")):
        value = exif.get(tag)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, str) and value.strip("\0 "):
            out[name] = _demojibake(value).strip("\0 \t\r\n")
    comment = exif.get_ifd(0x8769).get(0x9286)
    if isinstance(comment, str):
        comment = comment.encode("latin-1", "replace")
    if isinstance(comment, bytes) and comment.strip(b"\0 "):
        out["UserComment"] = _decode_user_comment(comment)
    return out


def _png_chunks(data: bytes, meta: _Metadata) -> tuple[bytes | None, bytes | None]:
    """Text chunks (into meta.text) and the eXIf and iTXt-XMP payloads of a PNG, wherever they sit.

    Pillow's `Image.info` holds only chunks before the first IDAT and `Image.text` decodes every pixel to reach the
    rest, so walk the chunks with Pillow's own chunk reader and text decoders (size-limited), skipping image data.
    """
    fp = io.BytesIO(data)
    fp.seek(8)
    stream = PngImagePlugin.PngStream(fp)
    for _ in range(_MAX_PNG_CHUNKS):
        try:
            cid, pos, length = stream.read()
        except (struct.error, SyntaxError, ValueError):
            break
        if cid == b"IEND" or pos + length > len(data):
            break
        if cid in (b"tEXt", b"zTXt", b"iTXt", b"eXIf"):
            try:
                stream.call(cid, pos, length)
            except (ValueError, SyntaxError, OSError, EOFError) as exc:
                _note(meta, f"PNG {cid.decode()} chunk", exc)
        fp.seek(pos + length + 4)  # data and CRC
    else:
        meta.notes.append(f"PNG: stopped after {_MAX_PNG_CHUNKS} chunks")
    for key, value in stream.im_text.items():
        # One past the JSON bound, so an oversized graph stays recognisably oversized rather than truncated JSON.
        meta.text[_excerpt(str(key), 80)] = _demojibake(str(value)[: _MAX_JSON_CHARS + 1])
    xmp = stream.im_info.get("xmp")
    exif = stream.im_info.get("exif")
    return (xmp if isinstance(xmp, bytes) else None), (exif if isinstance(exif, bytes) else None)


def _read_metadata(media: Media) -> _Metadata:
    meta = _Metadata()
    data = media.data
    exiv2_packet = ""
    try:
        exiv2_packet, raw_exif = _exiv2_read(data)
        meta.exif = _exif_from_exiv2(raw_exif)
        meta.readable = True
    except Exception as exc:  # pyexiv2 raises RuntimeError, UnicodeError and others for bad data
        _note(meta, "exiv2", exc)

    pillow_xmp: list[bytes | str] = []
    pillow_exif: bytes | None = None
    try:
        img = Image.open(io.BytesIO(data))
        meta.mode = img.mode
        meta.readable = True
        info = img.info
        if isinstance(info.get("xmp"), (bytes, str)):
            pillow_xmp.append(info["xmp"])
        if isinstance(info.get("exif"), bytes):
            pillow_exif = info["exif"]
        if isinstance(info.get("comment"), (bytes, str)):  # JPEG COM segment
            comment = info["comment"]
            meta.comment = comment.decode("utf-8", "replace") if isinstance(comment, bytes) else comment
        img.close()
    except Exception as exc:  # Pillow raises many types for bad data
        _note(meta, "Pillow", exc)

    if media.format == "png":
        png_xmp, png_exif = _png_chunks(data, meta)
        meta.readable = meta.readable or bool(meta.text or png_xmp or png_exif)
        if png_xmp is not None:
            pillow_xmp.append(png_xmp)
        if "XML:com.adobe.xmp" in meta.text:  # XMP in tEXt/zTXt (Midjourney)
            pillow_xmp.append(meta.text["XML:com.adobe.xmp"])
        pillow_exif = pillow_exif or png_exif

    # EXIF UserComment comes from Pillow's raw bytes where we have them: exiv2 decodes it by the tag's declared type,
    # so the same text reads as "charset=Unicode ..." or as a list of byte values depending on the writer.
    if pillow_exif:
        try:
            for key, value in _exif_from_pillow(pillow_exif).items():
                if key == "UserComment" or key not in meta.exif:
                    meta.exif[key] = value
        except Exception as exc:  # malformed EXIF: Pillow raises struct/OS/Syntax/Value errors
            _note(meta, "EXIF", exc)

    if exiv2_packet.strip():
        meta.xmp.append(("exiv2", exiv2_packet))
    else:
        # exiv2 could not give us the XMP (its toolkit rejects malformed packets, and then the whole read fails, or
        # the container is one it does not read): parse the packet Pillow found, tolerantly.
        seen: set[str] = set()
        for packet in pillow_xmp:
            text = packet.decode("utf-8", "replace") if isinstance(packet, bytes) else packet
            if text.strip() and text not in seen:
                seen.add(text)
                meta.xmp.append(("raw", text))
    return meta
