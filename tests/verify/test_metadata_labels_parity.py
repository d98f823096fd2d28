"""Parity: the browser's metadata_labels reader (extension/standalone/metadata-labels.js, run under node) gives the
same result as the server's check (in-process) on every shared fixture the issue names; its vocabulary is generated
from the server's tables and up to date; corrupt variants of labelled files agree on the label too."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from media_fixtures import alpha_plane
from PIL import Image

from buildtasks import labels_vocabulary
from server.verify import verdict
from server.verify.checks import metadata_labels
from server.verify.media import load_media
from server.verify.types import CheckContext, Limits, MediaError

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT.parent / "shared" / "fixtures"
RUNNER = ROOT / "tests" / "extension" / "metadata-labels-run.mjs"
IMAGE_FOLDERS = ("metadata", "c2pa", "photos", "watermark")
AV_FOLDERS = ("audio", "video")  # their image files where there are any; every audio/video file must be unsupported
SKIP_SUFFIXES = {".md", ".json", ".py", ".cfg", ".pem", ".txt"}

if not FIXTURES.is_dir():
    pytest.skip(f"shared fixtures not found at {FIXTURES}", allow_module_level=True)
if shutil.which("node") is None:
    pytest.skip("node is needed to run the extension's reader", allow_module_level=True)


def fixture_files() -> list[Path]:
    files: list[Path] = []
    for folder in IMAGE_FOLDERS + AV_FOLDERS:
        files += sorted(
            p for p in (FIXTURES / folder).rglob("*") if p.is_file() and p.suffix.lower() not in SKIP_SUFFIXES
        )
    return files


def server_result(data: bytes) -> dict[str, Any] | None:
    """The server's check as JSON plus the verdict label it alone gives; None when the server refuses the bytes."""
    try:
        media = load_media(data, Limits())
    except MediaError:
        return None
    result = metadata_labels.check(media, CheckContext())
    out = result.to_json()
    out["label"] = verdict.decide([result]).label
    return out


def js_results(paths: list[Path], tmp: Path, alpha: bool = True) -> list[dict[str, Any]]:
    items = [{"path": str(p), **({"alpha": a} if alpha and (a := alpha_plane(p, tmp)) else {})} for p in paths]
    proc = subprocess.run(
        ["node", str(RUNNER)], input=json.dumps(items), capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def comparable(result: dict[str, Any]) -> dict[str, Any]:
    """What must agree: outcome, signal, label, summary, every finding, the PNG text keys. Not `notes` (each reader
    words its own) and not `xmp_source` (the server names its reader, exiv2; the browser reads the raw packet)."""
    evidence = result.get("evidence") or {}
    return {
        "outcome": result["outcome"],
        "signal": result["signal"],
        "label": result["label"],
        "summary": result["summary"],
        "findings": evidence.get("findings"),
        "png_text_keys": evidence.get("png_text_keys"),
    }


def differences(paths: list[Path], tmp: Path) -> tuple[int, list[str]]:
    compared = 0
    diffs: list[str] = []
    for path, js in zip(paths, js_results(paths, tmp)):
        server = server_result(path.read_bytes())
        if server is None:  # the server refuses the bytes before any check (415): the browser must not label them
            assert js["label"] == "unknown" and js["outcome"] == "unsupported", path
            continue
        compared += 1
        if comparable(server) != comparable(js):
            diffs.append(f"{path.name}:\n  server {comparable(server)}\n  js     {comparable(js)}")
    return compared, diffs


def test_metadata_labels_parity_every_fixture_same_result(tmp_path: Path) -> None:
    paths = fixture_files()
    compared, diffs = differences(paths, tmp_path)
    assert compared >= 400, compared  # metadata + c2pa + photos + watermark images, and the audio/video files
    assert not diffs, f"{len(diffs)} of {compared} differ:\n" + "\n".join(diffs)


def test_metadata_labels_parity_fixture_labels_cover_each_reader(tmp_path: Path) -> None:
    """The parity run above means something only if the fixtures exercise each kind of finding in the browser."""
    paths = sorted(p for p in (FIXTURES / "metadata").iterdir() if p.suffix in (".png", ".jpg"))
    kinds = {f["kind"] for r in js_results(paths, tmp_path) for f in (r["evidence"].get("findings") or [])}
    assert {
        "iptc_digital_source_type",
        "gb45438_aigc_xmp",
        "sd_webui_parameters_png",
        "sd_webui_parameters_exif_usercomment",
        "comfyui_prompt_workflow_png",
        "novelai_png_text",
        "novelai_stealth_pnginfo_alpha",
        "midjourney_png_description",
    } <= kinds


def _mutations(data: bytes, rng: random.Random, n: int) -> list[bytes]:
    """Truncations, byte flips and spliced garbage of `data`: what a damaged or hostile file looks like."""
    out: list[bytes] = []
    for _ in range(n):
        choice = rng.randrange(3)
        if choice == 0:
            out.append(data[: rng.randrange(1, len(data))])
        elif choice == 1:
            buf = bytearray(data)
            for _ in range(rng.randrange(1, 16)):
                buf[rng.randrange(len(buf))] = rng.randrange(256)
            out.append(bytes(buf))
        else:
            at = rng.randrange(len(data))
            out.append(data[:at] + rng.randbytes(rng.randrange(1, 256)) + data[at:])
    return out


def test_metadata_labels_parity_damaged_files_same_label(tmp_path: Path) -> None:
    """Seeded mutations of every labelled metadata fixture: the browser never fails and gives the server's label.

    Labels only (the summary and findings of a half-readable file legitimately depend on where each reader stops)."""
    rng = random.Random(16)
    sources = sorted(p for p in (FIXTURES / "metadata").iterdir() if p.suffix in (".png", ".jpg"))
    paths: list[Path] = []
    for source in sources:
        for i, data in enumerate(_mutations(source.read_bytes(), rng, 12)):
            path = tmp_path / f"{source.stem}__{i}{source.suffix}"
            path.write_bytes(data)
            paths.append(path)
    mismatched: list[str] = []
    agreed = 0
    for path, js in zip(paths, js_results(paths, tmp_path)):
        assert js["outcome"] != "error", (path.name, js["summary"])
        server = server_result(path.read_bytes())
        server_label = server["label"] if server is not None and server["outcome"] != "error" else "unknown"
        if js["label"] == server_label:
            agreed += 1
        else:
            mismatched.append(f"{path.name}: server {server_label}, js {js['label']}")
    print(f"damaged variants: {agreed}/{len(paths)} same label")
    assert not mismatched, "\n".join(mismatched)


def test_labels_vocabulary_generated_copy_is_up_to_date() -> None:
    assert labels_vocabulary.TARGET.read_text(encoding="utf-8") == labels_vocabulary.render(), (
        "run `python3 build.py extension` (or buildtasks.labels_vocabulary.write()) and commit the result"
    )


# --- built files: the readers and rules the fixtures do not reach (WebP, TIFF, compressed PNG text, GB 45438 Labels
# 2/3, EXIF forms, XMP forms) ------------------------------------------------------------------------------------

TRAINED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
SD_PARAMS = (
    "a lighthouse at dusk\nNegative prompt: blurry\n"
    "Steps: 30, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 42, Size: 768x512"
)
GB_JSON = '{"Label":"%s","ContentProducer":"0011911101","ProduceID":"abc","ReservedCode1":"","ContentPropagator":""}'


def _xmp(body: str, description_attrs: str = "") -> str:
    return (
        '<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:TC260="http://www.tc260.org.cn/ns/AIGC/1.0/" '
        'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
        'xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        f'xmlns:xmp="http://ns.adobe.com/xap/1.0/" {description_attrs}>{body}</rdf:Description>'
        '</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    )


def _exif(**tags: Any) -> Image.Exif:
    exif = Image.Exif()
    for name, value in tags.items():
        if name == "UserComment":
            exif.get_ifd(0x8769)[0x9286] = value
        else:
            exif[{"Software": 0x0131, "ImageDescription": 0x010E}[name]] = value
    return exif


def _save(fmt: str, mode: str = "RGB", **params: Any) -> bytes:
    import io

    from PIL import PngImagePlugin

    out = io.BytesIO()
    img = Image.new(mode, (48, 32), (90, 120, 150, 255)[: len(mode)] if mode != "L" else 128)
    text = params.pop("text", None)
    if text:
        info = PngImagePlugin.PngInfo()
        for key, value, kind in text:
            if kind == "itxt":
                info.add_itxt(key, value)
            elif kind == "itxt_z":
                info.add_itxt(key, value, zip=True)
            else:
                info.add_text(key, value, zip=kind == "ztxt")
        params["pnginfo"] = info
    if isinstance(params.get("exif"), Image.Exif):
        params["exif"] = params["exif"].tobytes()
    if isinstance(params.get("xmp"), str):
        params["xmp"] = params["xmp"].encode()
    if fmt == "TIFF" and "xmp" in params:
        params["tiffinfo"] = {700: params.pop("xmp")}
    img.save(out, fmt, **params)
    return out.getvalue()


BUILT: dict[str, Any] = {
    "jpeg_xmp_dst_element_rdf_li": lambda: _save(
        "JPEG",
        xmp=_xmp(
            f'<Iptc4xmpExt:DigitalSourceType><rdf:Alt><rdf:li xml:lang="x-default">{TRAINED}</rdf:li></rdf:Alt>'
            "</Iptc4xmpExt:DigitalSourceType>"
        ),
    ),
    "jpeg_xmp_dst_resource": lambda: _save(
        "JPEG", xmp=_xmp(f'<Iptc4xmpExt:DigitalSourceType rdf:resource="{TRAINED}"/>')
    ),
    "jpeg_xmp_dst_iptc10_name": lambda: _save("JPEG", xmp=_xmp("", f'Iptc4xmpExt:DigitalSourcefileType="{TRAINED}/"')),
    "jpeg_xmp_dst_other_prefix": lambda: _save(
        "JPEG",
        xmp=_xmp("", 'xmlns:q="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" q:DigitalSourceType="compositeSynthetic"'),
    ),
    "jpeg_xmp_gb_label2_attr_entities": lambda: _save(
        "JPEG", xmp=_xmp("", "TC260:AIGC='" + (GB_JSON % "2").replace('"', "&quot;") + "'")
    ),
    "jpeg_xmp_gb_label3_element": lambda: _save("JPEG", xmp=_xmp(f"<TC260:AIGC>{GB_JSON % '3'}</TC260:AIGC>")),
    "jpeg_xmp_gb_label9": lambda: _save("JPEG", xmp=_xmp(f"<TC260:AIGC>{GB_JSON % '9'}</TC260:AIGC>")),
    "jpeg_xmp_gb_struct": lambda: _save(
        "JPEG",
        xmp=_xmp(
            '<TC260:AIGC rdf:parseType="Resource"><TC260:Label>1</TC260:Label>'
            "<TC260:ContentProducer>maker</TC260:ContentProducer></TC260:AIGC>"
        ),
    ),
    "jpeg_xmp_gb_not_json": lambda: _save("JPEG", xmp=_xmp("<TC260:AIGC>label one</TC260:AIGC>")),
    "jpeg_xmp_google_credit": lambda: _save(
        "JPEG", xmp=_xmp("<photoshop:Credit>Made with Google AI</photoshop:Credit>")
    ),
    "jpeg_xmp_dc_description_sd": lambda: _save(
        "JPEG",
        xmp=_xmp(
            f'<dc:description><rdf:Alt><rdf:li xml:lang="x-default">{SD_PARAMS}</rdf:li></rdf:Alt></dc:description>'
        ),
    ),
    "jpeg_xmp_creator_tool_novelai": lambda: _save("JPEG", xmp=_xmp("<xmp:CreatorTool>NovelAI</xmp:CreatorTool>")),
    "jpeg_xmp_malformed_pi_header": lambda: _save(
        "JPEG",
        xmp=_xmp(f"<Iptc4xmpExt:DigitalSourceType>{TRAINED}</Iptc4xmpExt:DigitalSourceType>").replace(
            'W5M0MpCehiHzreSzNTczkc9d"?>', 'W5M0MpCehiHzreSzNTczkc9d"??>'
        ),
    ),
    "jpeg_xmp_unbound_prefix": lambda: _save(
        "JPEG", xmp=_xmp(f"<nope:x>1</nope:x><Iptc4xmpExt:DigitalSourceType>{TRAINED}</Iptc4xmpExt:DigitalSourceType>")
    ),
    "jpeg_exif_usercomment_unicode_be": lambda: _save(
        "JPEG", exif=_exif(UserComment=b"UNICODE\0" + SD_PARAMS.encode("utf-16-be"))
    ),
    "jpeg_exif_usercomment_unicode_le": lambda: _save(
        "JPEG", exif=_exif(UserComment=b"UNICODE\0" + SD_PARAMS.encode("utf-16-le"))
    ),
    "jpeg_exif_usercomment_ascii_gb": lambda: _save(
        "JPEG", exif=_exif(UserComment=b"ASCII\0\0\0" + ('{"AIGC":' + GB_JSON % "1" + "}").encode())
    ),
    "jpeg_exif_usercomment_bare_gb_label2": lambda: _save(
        "JPEG", exif=_exif(UserComment=('{"AIGC":' + GB_JSON % "2" + "}").encode())
    ),
    "jpeg_exif_description_sd": lambda: _save("JPEG", exif=_exif(ImageDescription=SD_PARAMS)),
    "jpeg_exif_software_novelai": lambda: _save("JPEG", exif=_exif(Software="NovelAI")),
    "jpeg_exif_software_camera": lambda: _save(
        "JPEG", exif=_exif(Software="GIMP 2.10", ImageDescription="a caption about AI art")
    ),
    "jpeg_comment_midjourney": lambda: _save(
        "JPEG", comment=b"a cat --v 6 Job ID: 2b6e053b-9a65-4ca9-9e13-b6f4465164d4"
    ),
    "png_ztxt_parameters": lambda: _save("PNG", text=[("parameters", SD_PARAMS, "ztxt")]),
    "png_itxt_compressed_parameters": lambda: _save("PNG", text=[("parameters", SD_PARAMS, "itxt_z")]),
    "png_text_aigc_label2": lambda: _save("PNG", text=[("AIGC", GB_JSON % "2", "text")]),
    "png_text_aigc_member": lambda: _save("PNG", text=[("Comment", '{"AIGC": ' + GB_JSON % "1" + "}", "text")]),
    "png_text_utf8_in_latin1": lambda: _save("PNG", text=[("Description", "一只猫 " + SD_PARAMS, "itxt")]),
    "png_text_software_novelai": lambda: _save("PNG", text=[("Software", "novelai ", "text")]),
    "png_text_xmp_ztxt": lambda: _save(
        "PNG",
        text=[
            (
                "XML:com.adobe.xmp",
                _xmp(f"<Iptc4xmpExt:DigitalSourceType>{TRAINED}</Iptc4xmpExt:DigitalSourceType>"),
                "ztxt",
            )
        ],
    ),
    "png_itxt_xmp_compressed": lambda: _save(
        "PNG",
        text=[
            (
                "XML:com.adobe.xmp",
                _xmp(f"<Iptc4xmpExt:DigitalSourceType>{TRAINED}</Iptc4xmpExt:DigitalSourceType>"),
                "itxt_z",
            )
        ],
    ),
    "png_exif_chunk_sd": lambda: _save("PNG", exif=_exif(UserComment=b"UNICODE\0" + SD_PARAMS.encode("utf-16-be"))),
    "png_comfyui_prompt_only": lambda: _save(
        "PNG",
        text=[
            (
                "prompt",
                json.dumps(
                    {"3": {"class_type": "KSampler", "inputs": {}}, "4": {"class_type": "CheckpointLoaderSimple"}}
                ),
                "text",
            )
        ],
    ),
    "png_rgba_no_stealth": lambda: _save("PNG", mode="RGBA"),
    "webp_xmp_dst": lambda: _save(
        "WEBP", xmp=_xmp(f"<Iptc4xmpExt:DigitalSourceType>{TRAINED}</Iptc4xmpExt:DigitalSourceType>")
    ),
    "webp_exif_sd": lambda: _save("WEBP", exif=_exif(UserComment=b"UNICODE\0" + SD_PARAMS.encode("utf-16-be"))),
    "webp_lossless_rgba_gb": lambda: _save(
        "WEBP", mode="RGBA", lossless=True, xmp=_xmp(f"<TC260:AIGC>{GB_JSON % '1'}</TC260:AIGC>")
    ),
    "tiff_xmp_dst": lambda: _save(
        "TIFF", xmp=_xmp(f"<Iptc4xmpExt:DigitalSourceType>{TRAINED}</Iptc4xmpExt:DigitalSourceType>")
    ),
    "tiff_software_novelai": lambda: _save("TIFF", exif=_exif(Software="NovelAI")),
    "gif_plain": lambda: _save("GIF"),
}


# What each built file must be labelled (by both readers): parity alone would pass if both missed a label.
NOT_SYNTHETIC = {
    "jpeg_xmp_gb_label9": "unknown",
    "jpeg_xmp_gb_not_json": "unknown",
    "jpeg_exif_software_camera": "unknown",
    "png_rgba_no_stealth": "unknown",
    "gif_plain": "unknown",
    "jpeg_xmp_unbound_prefix": "unknown",
    "jpeg_xmp_gb_label2_attr_entities": "likely_synthetic",
    "jpeg_xmp_gb_label3_element": "likely_synthetic",
    "jpeg_exif_usercomment_bare_gb_label2": "likely_synthetic",
    "png_text_aigc_label2": "likely_synthetic",
}


def test_metadata_labels_parity_built_files_same_result(tmp_path: Path) -> None:
    paths = []
    for name, make in BUILT.items():
        path = tmp_path / name
        path.write_bytes(make())
        paths.append(path)
    compared, diffs = differences(paths, tmp_path)
    assert compared == len(BUILT)
    assert not diffs, f"{len(diffs)} of {compared} differ:\n" + "\n".join(diffs)
    labels = {path.name: r["label"] for path, r in zip(paths, js_results(paths, tmp_path))}
    assert labels == {name: NOT_SYNTHETIC.get(name, "synthetic") for name in BUILT}
