/*
 * PLACEHOLDER: replaced by the metadata-labels branch (issue 16), which ports the server's metadata_labels check
 * (IPTC DigitalSourceType and GB 45438 AIGC in XMP/EXIF/PNG text, Stable Diffusion / ComfyUI / NovelAI parameters).
 * Until that branch is merged this reads nothing and always answers "no signal", so standalone mode runs only the
 * C2PA check. Interface: readMetadataLabels(bytes: Uint8Array, mime?: string) -> {check, label, reason, evidence}.
 */

export function readMetadataLabels(bytes, mime) { // eslint-disable-line no-unused-vars
  return { check: 'metadata_labels', label: 'no_signal', reason: 'Metadata labels are not read yet in standalone mode.',
    evidence: {} };
}
