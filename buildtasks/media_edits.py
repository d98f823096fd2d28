"""Seeded generators of the edits people make to images and video frames before re-posting them (issue 13).

Every edit family draws its parameters at random from the stated range with a `numpy.random.Generator`; the same seed
gives the same copy, so a failing case is reproduced from the seed the test or bench prints. Used by the randomised
tests (a small fixed set of seeds) and by `build.py bench refutation` / `media` (a larger set).

Families (parameter ranges from issue 13):
- crop: 5-25 % cut from one side, a corner, or all four sides in unequal amounts;
- overlay: a caption or banner band on any side (outside the picture), or text, stickers, emoji-like discs and logos
  drawn over the picture;
- letterbox: bars (black, white or blurred picture) to another aspect ratio;
- rotate: up to +-10 degrees, either with bars at the corners or cropped to the inside rectangle;
- colour: colour filter (tint, sepia), contrast and brightness 0.6-1.5x, saturation, greyscale;
- screenshot: app or browser UI (bars, text, buttons) around the picture, which fills 50-90 % of the screenshot;
- compress: JPEG q30-60 and/or downscale to 0.3-0.7x;
- mirror: left-right;
- combo: any two of the above in random order;
- platform_copy (issue 15, `platform_copy`): what a social platform does to an upload: metadata stripped (decoded and
  re-saved without EXIF, XMP, ICC or C2PA), resized to 0.5-0.9x, a small crop (0-5 % per side), JPEG q60-90.

Unrelated pictures (`unrelated_images`): heavy crops (30-60 % of the side) of pictures that are not in the database,
those pictures themselves edited, and pictures of the same kind of scene.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

Rgb = np.ndarray
Edit = Callable[[Image.Image, np.random.Generator], tuple[Image.Image, dict[str, Any]]]

_WORDS = ("BREAKING", "they don't want you to see this", "SHARE before it's deleted", "Happening now", "LOOK",
          "This is what the media hides", "wow", "2 hours ago", "Reply", "Retweet", "Like", "Follow", "@newsdesk_24")


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=max(8, size))
    except (TypeError, OSError):  # Pillow built without FreeType
        return ImageFont.load_default()


def _text(draw: ImageDraw.ImageDraw, xy: tuple[int, int], text: str, size: int, fill: tuple[int, ...]) -> None:
    draw.text(xy, text, fill=fill, font=_font(size))


def _rand_colour(rng: np.random.Generator) -> tuple[int, int, int]:
    return tuple(int(v) for v in rng.integers(0, 256, 3))  # type: ignore[return-value]


def crop(img: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, dict[str, Any]]:
    """Cut 5-25 % away: from one side, from a corner (two sides), or from all four sides in unequal amounts."""
    w, h = img.size
    mode = str(rng.choice(["side", "corner", "asymmetric"]))
    cut = {"left": 0.0, "top": 0.0, "right": 0.0, "bottom": 0.0}
    if mode == "side":
        cut[str(rng.choice(list(cut)))] = float(rng.uniform(0.05, 0.25))
    elif mode == "corner":
        cut[str(rng.choice(["left", "right"]))] = float(rng.uniform(0.05, 0.25))
        cut[str(rng.choice(["top", "bottom"]))] = float(rng.uniform(0.05, 0.25))
    else:  # the total cut per axis is 5-25 %, split unevenly between its two sides
        for a, b in (("left", "right"), ("top", "bottom")):
            total = float(rng.uniform(0.05, 0.25))
            share = float(rng.uniform(0, 1))
            cut[a], cut[b] = total * share, total * (1 - share)
    box = (round(w * cut["left"]), round(h * cut["top"]), round(w * (1 - cut["right"])), round(h * (1 - cut["bottom"])))
    return img.crop(box), {"mode": mode, **{k: round(v, 3) for k, v in cut.items()}}


def overlay(img: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, dict[str, Any]]:
    """A caption/banner band outside the picture on any side, or text/stickers/emoji/logos over the picture."""
    w, h = img.size
    kind = str(rng.choice(["band", "band", "over"]))
    if kind == "band":
        side = str(rng.choice(["top", "bottom", "left", "right"]))
        share = float(rng.uniform(0.1, 0.3))
        bg = (255, 255, 255) if rng.random() < 0.5 else (0, 0, 0) if rng.random() < 0.5 else _rand_colour(rng)
        fg = (0, 0, 0) if sum(bg) > 380 else (255, 255, 255)
        if side in ("top", "bottom"):
            band = round(h * share)
            out = Image.new("RGB", (w, h + band), bg)
            out.paste(img, (0, band if side == "top" else 0))
            y0 = 0 if side == "top" else h
            draw = ImageDraw.Draw(out)
            lines = int(rng.integers(1, 3))
            for i in range(lines):
                _text(draw, (int(w * 0.04), y0 + int(band * (0.15 + 0.4 * i))), str(rng.choice(_WORDS)),
                      max(10, band // (lines + 1)), fg)
        else:
            band = round(w * share)
            out = Image.new("RGB", (w + band, h), bg)
            out.paste(img, (band if side == "left" else 0, 0))
            x0 = 0 if side == "left" else w
            draw = ImageDraw.Draw(out)
            for i in range(int(rng.integers(2, 6))):
                _text(draw, (x0 + 4, int(h * (0.1 + 0.15 * i))), str(rng.choice(_WORDS))[:12], max(10, band // 8), fg)
        return out, {"kind": "band", "side": side, "share": round(share, 3)}
    out = img.copy()
    draw = ImageDraw.Draw(out, "RGBA")
    items = []
    for _ in range(int(rng.integers(1, 4))):
        what = str(rng.choice(["text", "sticker", "emoji", "logo"]))
        size = int(min(w, h) * rng.uniform(0.08, 0.22))
        x, y = int(rng.integers(0, max(1, w - size))), int(rng.integers(0, max(1, h - size)))
        if what == "text":
            fs = max(12, int(h * rng.uniform(0.05, 0.1)))
            _text(draw, (int(rng.integers(0, max(1, w // 3))), y), str(rng.choice(_WORDS)).upper(), fs,
                  (255, 255, 255, 255))
        elif what == "sticker":
            draw.rounded_rectangle((x, y, x + size, y + size // 2), radius=size // 8, fill=(*_rand_colour(rng), 230))
            _text(draw, (x + 4, y + 4), "NEW", max(10, size // 5), (255, 255, 255, 255))
        elif what == "emoji":
            draw.ellipse((x, y, x + size, y + size), fill=(255, 204, 0, 255))
            eye = size // 8
            for ex in (x + size // 4, x + size * 5 // 8):
                draw.ellipse((ex, y + size // 3, ex + eye, y + size // 3 + eye), fill=(0, 0, 0, 255))
            draw.arc((x + size // 4, y + size // 2, x + size * 3 // 4, y + size * 7 // 8), 0, 180, fill=(0, 0, 0, 255),
                     width=3)
        else:
            draw.rectangle((x, y, x + size, y + size // 3), fill=(*_rand_colour(rng), 160))
            _text(draw, (x + 3, y + 2), "NEWS24", max(10, size // 5), (255, 255, 255, 255))
        items.append(what)
    return out, {"kind": "over", "items": items}


def letterbox(img: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, dict[str, Any]]:
    """Bars to another aspect ratio: black, white, a colour, or the blurred picture itself."""
    w, h = img.size
    target = float(rng.choice([9 / 16, 4 / 5, 1.0, 4 / 3, 16 / 9, 21 / 9, 2 / 3]))
    if abs(target - w / h) < 0.08:
        target = target * 1.5 if w / h < 1 else target / 1.5
    nw, nh = (round(h * target), h) if target > w / h else (w, round(w / target))
    fill = str(rng.choice(["black", "white", "colour", "blur"]))
    if fill == "blur":
        out = img.resize((nw, nh)).filter(ImageFilter.GaussianBlur(20))
    else:
        out = Image.new("RGB", (nw, nh), {"black": (0, 0, 0), "white": (255, 255, 255)}.get(fill) or _rand_colour(rng))
    out.paste(img, ((nw - w) // 2, (nh - h) // 2))
    return out, {"aspect": round(target, 3), "fill": fill}


def rotate(img: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, dict[str, Any]]:
    """Rotate by up to +-10 degrees; keep the whole picture with corner bars, or crop to the rotated inside."""
    angle = float(rng.uniform(-10, 10))
    expand = bool(rng.random() < 0.5)
    out = img.rotate(angle, resample=Image.BICUBIC, expand=expand, fillcolor=(0, 0, 0))
    if not expand:  # crop away the black corners: the largest axis-aligned rectangle inside
        w, h = img.size
        a = np.radians(abs(angle))
        k = 1 / (np.cos(a) + np.sin(a) * max(w / h, h / w))
        cw, ch = w * k, h * k
        out = out.crop((round((w - cw) / 2), round((h - ch) / 2), round((w + cw) / 2), round((h + ch) / 2)))
    return out, {"angle": round(angle, 2), "expand": expand}


def colour(img: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, dict[str, Any]]:
    """A colour filter, contrast, brightness, saturation change or greyscale."""
    kind = str(rng.choice(["tint", "sepia", "contrast", "brightness", "saturation", "grey"]))
    if kind == "tint":
        tint = np.array(_rand_colour(rng), dtype=np.float32)
        a = float(rng.uniform(0.15, 0.35))
        arr = np.asarray(img, dtype=np.float32) * (1 - a) + tint * a
        return Image.fromarray(arr.clip(0, 255).astype(np.uint8)), {"kind": kind, "alpha": round(a, 2)}
    if kind == "sepia":
        grey = ImageOps.grayscale(img)
        return ImageOps.colorize(grey, (40, 26, 13), (255, 240, 192)), {"kind": kind}
    if kind == "grey":
        return ImageOps.grayscale(img).convert("RGB"), {"kind": kind}
    factor = float(rng.uniform(0.6, 1.5))
    enh = {"contrast": ImageEnhance.Contrast, "brightness": ImageEnhance.Brightness,
           "saturation": ImageEnhance.Color}[kind]
    return enh(img).enhance(factor), {"kind": kind, "factor": round(factor, 2)}


def screenshot(img: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, dict[str, Any]]:
    """The picture inside app or browser UI: it fills 50-90 % of the screenshot's area."""
    w, h = img.size
    fill = float(rng.uniform(0.5, 0.9))
    # Screen size so that picture area / screen area = fill, with a random split between width and height margins.
    ratio = 1 / fill
    split = float(rng.uniform(0.2, 0.8))
    sw = round(w * ratio ** split)
    sh = round(h * ratio ** (1 - split))
    dark = bool(rng.random() < 0.5)
    bg = (21, 32, 43) if dark else (255, 255, 255)
    fg = (230, 230, 230) if dark else (20, 20, 20)
    out = Image.new("RGB", (sw, sh), bg)
    x0 = int(rng.integers(0, sw - w + 1))
    y0 = int(rng.integers(0, sh - h + 1))
    out.paste(img, (x0, y0))
    draw = ImageDraw.Draw(out)
    fs = max(10, sh // 40)
    if y0 > fs * 2:  # header: a status bar / address bar, an avatar and a name, post text
        draw.rectangle((0, 0, sw, min(y0 - 2, fs * 2)), fill=(60, 60, 60) if dark else (235, 235, 235))
        _text(draw, (8, 2), "https://social.example/post/123" if rng.random() < 0.5 else "9:41  4G  87%", fs, fg)
        if y0 > fs * 5:
            draw.ellipse((8, fs * 3, 8 + fs * 2, fs * 5), fill=_rand_colour(rng))
            _text(draw, (fs * 3, fs * 3), "@newsdesk_24 · 2h", fs, fg)
    if sh - (y0 + h) > fs * 2:  # footer: buttons and counts
        yb = y0 + h + fs // 2
        for i, label in enumerate(("Reply 1.2K", "Repost 8.9K", "Like 31K", "Share")):
            _text(draw, (8 + i * sw // 4, yb), label, fs, fg)
    if x0 > fs * 3:  # a side bar
        for i in range(8):
            _text(draw, (4, y0 + i * fs * 2), str(rng.choice(("Home", "Explore", "Messages", "Lists"))), fs, fg)
    return out, {"fill": round(fill, 3), "dark": dark, "size": [sw, sh]}


def compress(img: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, dict[str, Any]]:
    """Downscale to 0.3-0.7x and/or JPEG q30-60 (the saved copy is always re-encoded once more by `encode`)."""
    params: dict[str, Any] = {}
    if rng.random() < 0.6:
        f = float(rng.uniform(0.3, 0.7))
        img = img.resize((max(16, round(img.width * f)), max(16, round(img.height * f))), Image.LANCZOS)
        params["scale"] = round(f, 3)
    q = int(rng.integers(30, 61))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=q)
    params["jpeg_quality"] = q
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB"), params


def mirror(img: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, dict[str, Any]]:
    """Left-right mirror."""
    return ImageOps.mirror(img), {}


FAMILIES: dict[str, Edit] = {"crop": crop, "overlay": overlay, "letterbox": letterbox, "rotate": rotate,
                             "colour": colour, "screenshot": screenshot, "compress": compress, "mirror": mirror}


def combo(img: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, dict[str, Any]]:
    """Any two different families, in random order."""
    names = [str(n) for n in rng.choice(list(FAMILIES), 2, replace=False)]
    params: dict[str, Any] = {}
    for name in names:
        img, p = FAMILIES[name](img, rng)
        params[name] = p
    return img, {"families": names, **params}


ALL_FAMILIES: dict[str, Edit] = {**FAMILIES, "combo": combo}


def edit(img: Image.Image, family: str, seed: int) -> tuple[bytes, dict[str, Any]]:
    """One edited copy, JPEG-encoded (q75-95, as a re-post would be), and the parameters drawn."""
    rng = np.random.default_rng(seed)
    out, params = ALL_FAMILIES[family](img.convert("RGB"), rng)
    return encode(out, int(rng.integers(75, 96))), {"family": family, "seed": seed, **params}


def encode(img: Image.Image, quality: int = 85) -> bytes:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def unrelated(img: Image.Image, seed: int) -> tuple[bytes, dict[str, Any]]:
    """An unrelated picture made from a picture NOT in the database: a heavy crop (30-60 % of each side kept, at a
    random place) and/or one edit family."""
    rng = np.random.default_rng(seed)
    img = img.convert("RGB")
    params: dict[str, Any] = {"seed": seed}
    if rng.random() < 0.7:
        w, h = img.size
        kw, kh = float(rng.uniform(0.3, 0.6)), float(rng.uniform(0.3, 0.6))
        x, y = float(rng.uniform(0, 1 - kw)), float(rng.uniform(0, 1 - kh))
        img = img.crop((round(w * x), round(h * y), round(w * (x + kw)), round(h * (y + kh))))
        params["crop"] = [round(x, 2), round(y, 2), round(kw, 2), round(kh, 2)]
    if rng.random() < 0.5:
        name = str(rng.choice(list(FAMILIES)))
        img, p = FAMILIES[name](img, rng)
        params[name] = p
    return encode(img, int(rng.integers(75, 96))), params


def to_rgb(data: bytes) -> Rgb:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def resize_rgb(rgb: Rgb, scale: float) -> Rgb:
    h, w = rgb.shape[:2]
    return cv2.resize(rgb, (max(2, round(w * scale)), max(2, round(h * scale))), interpolation=cv2.INTER_AREA)


# --- video -----------------------------------------------------------------------------------------------------------
#
# A copy of a clip: one image family applied to every frame with the same parameters (the rng is re-seeded per frame),
# or a time edit, then encoded with H.264 at a random CRF 23-40 (PyAV's bundled libx264).
# Time families: trim (start and/or end, 10-40 % in all), speed (+-10 %), fps (to 12-60 fps), cut (a segment of
# 40-70 % from inside the clip), pip (the clip scaled into another picture, filling 50-90 % of its area).

VIDEO_FAMILIES = ("crop", "overlay", "letterbox", "rotate", "colour", "compress", "mirror", "screenshot",
                  "trim", "speed", "fps", "cut", "pip", "combo")


def decode_clip(data: bytes, max_side: int = 640) -> tuple[list[np.ndarray], float]:
    """Every frame of a clip as RGB (downscaled to `max_side`, which keeps generation cheap), and its frame rate."""
    import av

    frames = []
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or 25)
        for frame in container.decode(stream):
            rgb = frame.to_ndarray(format="rgb24")
            h, w = rgb.shape[:2]
            if max(h, w) > max_side:
                rgb = resize_rgb(rgb, max_side / max(h, w))
            frames.append(rgb)
    return frames, fps


def encode_clip(frames: list[np.ndarray], fps: float, crf: int = 23, metadata: dict[str, str] | None = None) -> bytes:
    """H.264 (yuv420p, even dimensions) in MP4, with these container tags (none by default)."""
    import av

    out = io.BytesIO()
    h, w = frames[0].shape[:2]
    h, w = h - h % 2, w - w % 2
    with av.open(out, mode="w", format="mp4") as container:
        container.metadata.update(metadata or {})
        stream = container.add_stream("libx264", rate=max(1, round(fps)))
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"crf": str(crf), "preset": "ultrafast"}
        for rgb in frames:
            if rgb.shape[:2] != (h, w):
                rgb = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


def _image_family_on_frames(frames: list[np.ndarray], family: str,
                            seed: int) -> tuple[list[np.ndarray], dict[str, Any]]:
    out, params = [], {}
    fn = FAMILIES[family]
    for rgb in frames:
        img, params = fn(Image.fromarray(rgb), np.random.default_rng(seed))
        out.append(np.asarray(img.convert("RGB")))
    return out, params


def _background(rng: np.random.Generator, size: tuple[int, int], photos: list[Any]) -> np.ndarray:
    w, h = size
    if photos:
        img = Image.open(photos[int(rng.integers(0, len(photos)))]).convert("RGB").resize((w, h))
        return np.asarray(img.filter(ImageFilter.GaussianBlur(2)))
    return np.full((h, w, 3), _rand_colour(rng), np.uint8)


def edit_clip(data: bytes, family: str, seed: int, photos: list[Any] | None = None) -> tuple[bytes, dict[str, Any]]:
    """One edited copy of a clip and the parameters drawn. `photos` (paths) supply picture-in-picture backgrounds."""
    rng = np.random.default_rng(seed)
    frames, fps = decode_clip(data)
    params: dict[str, Any] = {"family": family, "seed": seed}
    names = [str(n) for n in rng.choice([f for f in VIDEO_FAMILIES if f != "combo"], 2, replace=False)] \
        if family == "combo" else [family]
    for i, name in enumerate(names):
        sub = seed * 31 + i
        r = np.random.default_rng(sub)
        if name in FAMILIES:
            frames, p = _image_family_on_frames(frames, name, sub)
        elif name == "trim":
            total = float(r.uniform(0.1, 0.4))
            head = total * float(r.uniform(0, 1))
            n = len(frames)
            frames = frames[int(n * head): max(int(n * head) + 2, int(n * (1 - (total - head))))]
            p = {"start": round(head, 3), "end": round(total - head, 3)}
        elif name == "speed":
            speed = float(r.uniform(0.9, 1.1))
            idx = np.arange(0, len(frames) - 1e-9, speed).astype(int)
            frames = [frames[j] for j in idx]
            p = {"speed": round(speed, 3)}
        elif name == "fps":
            new = float(r.choice([12, 15, 24, 30, 50, 60]))
            idx = np.floor(np.arange(0, len(frames) / fps, 1 / new) * fps).astype(int)
            frames = [frames[j] for j in idx if j < len(frames)]
            fps, p = new, {"fps": new}
        elif name == "cut":
            keep = float(r.uniform(0.4, 0.7))
            start = float(r.uniform(0, 1 - keep))
            n = len(frames)
            frames = frames[int(n * start): int(n * (start + keep))]
            p = {"start": round(start, 3), "keep": round(keep, 3)}
        else:  # pip
            h, w = frames[0].shape[:2]
            area = float(r.uniform(0.5, 0.9))
            s = np.sqrt(area)
            bw, bh = round(w / s), round(h / s)
            bg = _background(r, (bw, bh), photos or [])
            x0, y0 = int(r.integers(0, bw - w + 1)), int(r.integers(0, bh - h + 1))
            out = []
            for rgb in frames:
                canvas = bg.copy()
                canvas[y0: y0 + h, x0: x0 + w] = rgb
                out.append(canvas)
            frames, p = out, {"area": round(area, 3)}
        params[name] = p
    crf = int(rng.integers(23, 41))
    params["crf"] = crf
    return encode_clip(frames, fps, crf), params


def unrelated_clip(photo: Any, seed: int, seconds: float = 4.0, fps: float = 15.0) -> bytes:
    """An unrelated clip made from a real photo (not in the database): a slow seeded pan and zoom over it."""
    rng = np.random.default_rng(seed)
    img = np.asarray(Image.open(photo).convert("RGB"))
    h, w = img.shape[:2]
    z0, z1 = float(rng.uniform(0.5, 0.9)), float(rng.uniform(0.5, 0.9))
    (ax, ay), (bx, by) = rng.uniform(0, 1, 2), rng.uniform(0, 1, 2)
    n = int(seconds * fps)
    frames = []
    for i in range(n):
        t = i / max(1, n - 1)
        z = z0 + (z1 - z0) * t
        cw, ch = int(w * z), int(h * z)
        x = int((w - cw) * (ax + (bx - ax) * t))
        y = int((h - ch) * (ay + (by - ay) * t))
        frames.append(cv2.resize(img[y: y + ch, x: x + cw], (480, round(480 * ch / cw) // 2 * 2)))
    return encode_clip(frames, fps, int(rng.integers(23, 36)))


def platform_copy(data: bytes, seed: int) -> tuple[bytes, dict[str, Any]]:
    """A platform's copy of an upload (issue 15): pixels only (every metadata block dropped), resized to 0.5-0.9x,
    cropped 0-5 % per side, JPEG q60-90; and the parameters drawn."""
    rng = np.random.default_rng(seed)
    img = Image.open(io.BytesIO(data))
    img = img.convert("RGBA").convert("RGB") if img.mode in ("P", "LA", "RGBA") else img.convert("RGB")
    w, h = img.size
    cut = [float(rng.uniform(0, 0.05)) for _ in range(4)]
    img = img.crop((round(w * cut[0]), round(h * cut[1]), w - round(w * cut[2]), h - round(h * cut[3])))
    scale = float(rng.uniform(0.5, 0.9))
    img = img.resize((max(16, round(img.width * scale)), max(16, round(img.height * scale))), Image.LANCZOS)
    quality = int(rng.integers(60, 91))
    return encode(img, quality), {"seed": seed, "crop": [round(c, 3) for c in cut], "scale": round(scale, 3),
                                  "jpeg_quality": quality}


def platform_clip_copy(data: bytes, seed: int) -> tuple[bytes, dict[str, Any]]:
    """A platform's copy of a video upload (issue 15): frames only (every metadata block and the manifest dropped, as
    ffmpeg -map_metadata -1 re-encoding does), scaled to 0.5-0.8x, H.264 at CRF 28-38; and the parameters drawn."""
    rng = np.random.default_rng(seed)
    frames, fps = decode_clip(data, max_side=4096)
    scale = float(rng.uniform(0.5, 0.8))
    crf = int(rng.integers(28, 39))
    copy = encode_clip([resize_rgb(f, scale) for f in frames], fps, crf)
    return copy, {"seed": seed, "scale": round(scale, 3), "crf": crf}


def platform_audio_copy(data: bytes, seed: int) -> tuple[bytes, dict[str, Any]]:
    """A platform's copy of an audio upload (issue 15): the samples only (tags, ID3/RIFF INFO and the manifest
    dropped), re-encoded as MP3 or AAC (in M4A) at 48-128 kbps; and the parameters drawn."""
    rng = np.random.default_rng(seed)
    codec = str(rng.choice(["mp3", "aac"]))
    kbps = int(rng.integers(48, 129))
    return encode_audio(data, codec, kbps), {"seed": seed, "codec": codec, "kbps": kbps}


def encode_audio(data: bytes, codec: str = "mp3", kbps: int = 128, metadata: dict[str, str] | None = None) -> bytes:
    """The first audio stream of `data` as mono 44.1 kHz MP3 or AAC (M4A), with these tags only (none by default)."""
    import av

    out = io.BytesIO()
    mp3 = codec == "mp3"
    with av.open(io.BytesIO(data)) as src, av.open(out, mode="w", format="mp3" if mp3 else "ipod") as dst:
        dst.metadata.update(metadata or {})
        stream = dst.add_stream("libmp3lame" if mp3 else "aac", rate=44100)
        stream.bit_rate = kbps * 1000
        stream.layout = "mono"
        resampler = av.AudioResampler(format="s16p" if mp3 else "fltp", layout="mono", rate=44100)
        for frame in [*src.decode(src.streams.audio[0]), None]:
            if frame is not None:
                frame.pts = None
            for converted in resampler.resample(frame):
                for packet in stream.encode(converted):
                    dst.mux(packet)
        for packet in stream.encode(None):
            dst.mux(packet)
    return out.getvalue()


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion k/n (as shares, 0..1)."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def upper_bound(k: int, n: int) -> float:
    """One-sided 95% upper bound of a rate k/n: exact (1 - 0.05^(1/n)) for k = 0 (the 'rule of three'), else Wilson."""
    if n == 0:
        return 1.0
    return float(1 - 0.05 ** (1 / n)) if k == 0 else wilson(k, n, 1.645)[1]
