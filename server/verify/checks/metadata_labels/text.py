"""Labels and generator traces in text fields: GB 45438 JSON, Stable Diffusion parameters, ComfyUI, NovelAI, Midjourney."""

from __future__ import annotations

from typing import Any


from ...types import Signal
from .reading import _GB45438_FIELDS, _GB45438_LABELS, _GENERATOR_SOFTWARE, _MAX_TEXT_CHARS, _MJ_JOB, _MJ_VERSION, _Metadata, _SD_PARAMS, _excerpt, _json_obj


# --- labels and traces in text -------------------------------------------------------------------------------------

def _gb45438(value: Any, kind: str, field_name: str) -> dict[str, Any]:
    """A GB 45438-2025 implicit label: the JSON object (or XMP struct) with Label, ContentProducer, ..."""
    data = _json_obj(value)
    if data is not None and isinstance(data.get("AIGC"), (dict, str)):
        data = _json_obj(data["AIGC"]) or data
    if data is None:
        return {"kind": kind, "field": field_name, "value": _excerpt(str(value)), "label_value": None, "ai": False,
                "signal": None, "note": "the AIGC value is not a JSON object"}
    label = str(data.get("Label", "")).strip()
    signal, _ = _GB45438_LABELS.get(label, (None, ""))
    fields = {k: _excerpt(str(data[k])) for k in _GB45438_FIELDS if k in data}
    return {"kind": kind, "field": field_name, "value": fields, "label_value": label, "ai": signal is not None,
            "signal": str(signal) if signal else None}


def _gb45438_in_text(field_name: str, text: str) -> list[dict[str, Any]]:
    """An `AIGC` member holding the GB 45438 JSON inside a text field (EXIF UserComment and the like)."""
    if '"AIGC"' not in text[:_MAX_TEXT_CHARS]:
        return []
    data = _json_obj(text.strip())
    if data is None or not isinstance(data.get("AIGC"), (dict, str)):
        return []
    return [_gb45438(data["AIGC"], "gb45438_aigc_text", field_name)]


def _text_traces(field_name: str, text: str, sd_kind: str = "sd_webui_parameters",
                 mj_kind: str = "midjourney_description") -> list[dict[str, Any]]:
    """Generator infotext that a tool writes into a free-text field: A1111 parameters, a Midjourney description."""
    text = text[:_MAX_TEXT_CHARS]
    findings: list[dict[str, Any]] = []
    if "Steps: " in text and _SD_PARAMS.search(text):
        findings.append({"kind": sd_kind, "field": field_name, "value": _excerpt(text), "ai": True,
                         "signal": str(Signal.DECLARED_SYNTHETIC)})
    if "Job ID" in text and _MJ_JOB.search(text) and _MJ_VERSION.search(text):
        findings.append({"kind": mj_kind, "field": field_name, "value": _excerpt(text), "ai": True,
                         "signal": str(Signal.DECLARED_SYNTHETIC)})
    return findings


def _software(field_name: str, value: str) -> list[dict[str, Any]]:
    name = _GENERATOR_SOFTWARE.get(value.strip().lower())
    if name is None:
        return []
    return [{"kind": "generator_software", "field": field_name, "value": _excerpt(value.strip()), "generator": name,
             "ai": True, "signal": str(Signal.DECLARED_SYNTHETIC)}]


def _comfyui(text: dict[str, str]) -> list[dict[str, Any]]:
    """ComfyUI's `prompt` (API graph: {id: {class_type, inputs}}) and `workflow` (editor graph: {nodes: [...]})."""
    class_types: list[str] = []
    present: list[str] = []
    prompt = _json_obj(text.get("prompt"))
    if prompt is not None:
        nodes = [n["class_type"] for n in prompt.values()
                 if isinstance(n, dict) and isinstance(n.get("class_type"), str)]
        if nodes:
            present.append("prompt")
            class_types = nodes
    workflow = _json_obj(text.get("workflow"))
    if workflow is not None and isinstance(workflow.get("nodes"), list):
        nodes = [n["type"] for n in workflow["nodes"] if isinstance(n, dict) and isinstance(n.get("type"), str)]
        if nodes:
            present.append("workflow")
            class_types = class_types or nodes
    if not present:
        return []
    value = {"nodes": len(class_types), "class_types": sorted(set(class_types))[:25],
             "sampler_nodes": sorted({c for c in class_types if "sampler" in c.lower()})[:10]}
    return [{"kind": "comfyui_prompt_workflow_png", "field": "PNG:" + "+".join(present), "value": value, "ai": True,
             "signal": str(Signal.DECLARED_SYNTHETIC)}]


def _novelai_fields(data: dict[str, Any]) -> dict[str, str]:
    return {k: _excerpt(str(data[k])) for k in ("Software", "Source", "Title") if isinstance(data.get(k), str)}


def _is_novelai(data: dict[str, Any]) -> bool:
    return (str(data.get("Software", "")).strip() == "NovelAI"
            or str(data.get("Title", "")).strip() == "NovelAI generated image")


def _text_chunk_findings(meta: _Metadata) -> list[dict[str, Any]]:
    text = meta.text
    findings = _comfyui(text)
    if _is_novelai(text):
        findings.append({"kind": "novelai_png_text", "field": "PNG:Software/Title", "value": _novelai_fields(text),
                         "ai": True, "signal": str(Signal.DECLARED_SYNTHETIC)})
    elif "Software" in text:
        findings.extend(_software("PNG:Software", text["Software"]))
    for key, value in text.items():
        if key in ("prompt", "workflow", "XML:com.adobe.xmp") or key.startswith("Raw profile type"):
            continue
        where = f"PNG:{key}"
        if key.lower() == "aigc":
            findings.append(_gb45438(value, "gb45438_aigc_text", where))
            continue
        findings.extend(_gb45438_in_text(where, value))
        sd_kind = "sd_webui_parameters_png" if key == "parameters" else "sd_webui_parameters"
        findings.extend(_text_traces(where, value, sd_kind=sd_kind, mj_kind="midjourney_png_description"))
    if meta.comment:
        findings.extend(_text_traces("JPEG:Comment", meta.comment))
    return findings


def _exif_findings(meta: _Metadata) -> list[dict[str, Any]]:
    findings: list[dict[str, Any]] = []
    if "Software" in meta.exif:
        findings.extend(_software("EXIF:Software", meta.exif["Software"]))
    for name in ("UserComment", "ImageDescription"):
        value = meta.exif.get(name)
        if value:
            findings.extend(_gb45438_in_text(f"EXIF:{name}", value))
            findings.extend(_text_traces(f"EXIF:{name}", value, sd_kind=(
                "sd_webui_parameters_exif_usercomment" if name == "UserComment" else "sd_webui_parameters")))
    return findings
