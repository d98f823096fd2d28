"""Turning untrusted bytes into a Media: size bound, type sniffing from magic bytes, never trusting a declared type."""

from __future__ import annotations

import hashlib

from .types import Limits, Media, MediaKind, MediaTooLarge, UndecodableMedia, UnsupportedMedia

# ISO-BMFF major brands -> (mime, kind, format)
_FTYP_BRANDS: dict[bytes, tuple[str, MediaKind, str]] = {
    b"heic": ("image/heic", MediaKind.IMAGE, "heic"),
    b"heix": ("image/heic", MediaKind.IMAGE, "heic"),
    b"mif1": ("image/heif", MediaKind.IMAGE, "heif"),
    b"msf1": ("image/heif", MediaKind.IMAGE, "heif"),
    b"avif": ("image/avif", MediaKind.IMAGE, "avif"),
    b"avis": ("image/avif", MediaKind.IMAGE, "avif"),
    b"M4A ": ("audio/mp4", MediaKind.AUDIO, "m4a"),
    b"M4B ": ("audio/mp4", MediaKind.AUDIO, "m4a"),
    b"qt  ": ("video/quicktime", MediaKind.VIDEO, "mov"),
}


def sniff(data: bytes) -> tuple[str, MediaKind, str]:
    """Return (mime, kind, format) from the leading bytes.

    Raises:
        UnsupportedMedia: not a format Verity reads.
    """
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg", MediaKind.IMAGE, "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png", MediaKind.IMAGE, "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif", MediaKind.IMAGE, "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp", MediaKind.IMAGE, "webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav", MediaKind.AUDIO, "wav"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video/x-msvideo", MediaKind.VIDEO, "avi"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff", MediaKind.IMAGE, "tiff"
    if head[:2] == b"BM" and len(data) > 26:
        return "image/bmp", MediaKind.IMAGE, "bmp"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _FTYP_BRANDS:
            return _FTYP_BRANDS[brand]
        return "video/mp4", MediaKind.VIDEO, "mp4"
    if head[:4] == b"\x1aE\xdf\xa3":
        if b"webm" in data[:64]:
            return "video/webm", MediaKind.VIDEO, "webm"
        return "video/x-matroska", MediaKind.VIDEO, "mkv"
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06):
        return "audio/mpeg", MediaKind.AUDIO, "mp3"
    if head[:4] == b"fLaC":
        return "audio/flac", MediaKind.AUDIO, "flac"
    if head[:4] == b"OggS":
        return "audio/ogg", MediaKind.AUDIO, "ogg"
    raise UnsupportedMedia("the bytes are not an image, audio or video format Verity reads")


def load_media(data: bytes, limits: Limits) -> Media:
    """Bound, hash and sniff submitted bytes.

    Raises:
        UndecodableMedia: empty input.
        MediaTooLarge: more bytes than allowed.
        UnsupportedMedia: unknown format.
    """
    if not data:
        raise UndecodableMedia("the file is empty")
    if len(data) > limits.max_bytes:
        raise MediaTooLarge(f"{len(data)} bytes; the limit is {limits.max_bytes} bytes")
    mime, kind, fmt = sniff(data)
    return Media(data=data, sha256=hashlib.sha256(data).hexdigest(), mime=mime, kind=kind, format=fmt, limits=limits)
