"""XMP: IPTC DigitalSourceType, the GB 45438 TC260:AIGC property and Google's AI credit, from untrusted packets."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from typing import Any


from ..c2pa_manifest import source_type_name
from ...types import Signal
from .reading import _AI_SOURCE_TYPES_LOWER, _GOOGLE_AI_CREDIT, _MAX_XMP_CHARS, _MAX_XMP_DESCENDANTS, _MAX_XMP_PROPERTIES, _Metadata, _NS_DC, _NS_IPTC_EXT, _NS_PHOTOSHOP, _NS_RDF, _NS_TC260, _NS_XMP, _XMP_END, _XMP_START, _XMP_WANTED, _excerpt
from .text import _gb45438, _software, _text_traces


# --- XMP ---------------------------------------------------------------------------------------------------------

def _strip_processing_instructions(text: str) -> str:
    """Drop every `<?...?>`: the malformed `<?xpacket ...??>` header written by Doubao and Jimeng, and XML declarations
    placed after the xpacket header, which strict parsers (exiv2's XMP toolkit among them) reject.

    A loop over str.find rather than a lazy regex, which goes quadratic on many unclosed `<?`.
    """
    parts: list[str] = []
    pos = 0
    while (start := text.find("<?", pos)) != -1:
        end = text.find("?>", start + 2)
        if end == -1:
            break
        parts.append(text[pos:start])
        pos = end + 2
    parts.append(text[pos:])
    return "".join(parts)


def _parse_xmp(packet: str) -> ET.Element | None:
    """Parse an XMP packet by namespace URI (so any prefix works), tolerating malformed processing instructions.

    Namespaces are resolved here rather than read from pyexiv2's `Xmp.<prefix>.<name>` keys: exiv2 keeps one
    process-wide prefix table that each parsed file can re-map, so a custom namespace's prefix (TC260) would depend on
    what was parsed before.
    """
    if len(packet) > _MAX_XMP_CHARS or "<!DOCTYPE" in packet or "<!ENTITY" in packet:  # XMP forbids DTDs
        return None
    text = _strip_processing_instructions(packet)
    start = _XMP_START.search(text)
    ends = list(_XMP_END.finditer(text))
    if start is None or not ends:
        return None
    try:
        return ET.fromstring(text[start.start(): ends[-1].end()])
    except ET.ParseError:
        return None


_NS_XML = "http://www.w3.org/XML/1998/namespace"


def _split(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag


def _element_value(elem: ET.Element) -> Any:
    """Simple value, rdf:resource, the first item of an rdf:Alt/Bag/Seq, or a struct as a dict.

    Only the first few descendants are looked at: a value is never deep, and a hostile packet can nest thousands.
    """
    text = (elem.text or "").strip()
    if text:
        return text
    resource = elem.get(f"{{{_NS_RDF}}}resource")
    if resource:
        return resource
    near = list(itertools.islice(elem.iter(), 1, _MAX_XMP_DESCENDANTS))
    for child in near:
        if child.tag == f"{{{_NS_RDF}}}li" and (child.text or "").strip():
            return child.text.strip()
    # exiv2 re-serialises a struct (rdf:parseType="Resource") as attributes of the property element itself.
    struct_fields: dict[str, str] = {_split(k)[1]: v for k, v in elem.attrib.items()
                                     if _split(k)[0] not in ("", _NS_RDF, _NS_XML)}
    for child in near:
        ns, local = _split(child.tag)
        if ns not in ("", _NS_RDF):
            struct_fields[local] = (child.text or "").strip()
        elif child.tag == f"{{{_NS_RDF}}}Description":  # struct written as rdf:Description attributes
            struct_fields.update({_split(k)[1]: v for k, v in child.attrib.items()
                                  if _split(k)[0] not in ("", _NS_RDF)})
    return struct_fields or ""


def _xmp_properties(root: ET.Element) -> list[tuple[str, str, Any]]:
    """(namespace, name, value) of the properties this check reads, in attribute and element form (bounded)."""
    props: list[tuple[str, str, Any]] = []
    for elem in root.iter():
        for key, value in elem.attrib.items():
            ns, local = _split(key)
            if (ns, local.lower()) in _XMP_WANTED:
                props.append((ns, local, value))
        ns, local = _split(elem.tag)
        if (ns, local.lower()) in _XMP_WANTED:
            props.append((ns, local, _element_value(elem)))
        if len(props) >= _MAX_XMP_PROPERTIES:
            break
    return props


def _xmp_findings(meta: _Metadata) -> list[dict[str, Any]]:
    findings: list[dict[str, Any]] = []
    for source, packet in meta.xmp:
        root = _parse_xmp(packet)
        if root is None:
            meta.notes.append(f"XMP ({source}): the packet could not be parsed")
            continue
        for ns, local, value in _xmp_properties(root):
            if ns == _NS_IPTC_EXT and isinstance(value, str) and value:  # or IPTC Ext 1.0's DigitalSourcefileType
                name = _excerpt(source_type_name(value), 100)
                ai = name.lower() in _AI_SOURCE_TYPES_LOWER
                findings.append({"kind": "iptc_digital_source_type", "field": f"XMP-iptcExt:{local}",
                                 "value": _excerpt(str(value)), "source_type": name, "ai": ai,
                                 "signal": str(Signal.DECLARED_SYNTHETIC) if ai else None})
            elif ns == _NS_TC260:
                findings.append(_gb45438(value, "gb45438_aigc_xmp", "XMP-TC260:AIGC"))
            elif ns == _NS_PHOTOSHOP and isinstance(value, str) and value.strip().lower() == _GOOGLE_AI_CREDIT:
                findings.append({"kind": "google_ai_credit", "field": "XMP-photoshop:Credit", "value": value.strip(),
                                 "ai": True, "signal": str(Signal.DECLARED_SYNTHETIC)})
            elif ns == _NS_DC and isinstance(value, str):
                findings.extend(_text_traces("XMP-dc:Description", value))
            elif ns == _NS_XMP and isinstance(value, str):
                findings.extend(_software("XMP-xmp:CreatorTool", value))
    return findings
