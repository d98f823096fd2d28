// The browser's metadata_labels reader (extension/standalone/metadata-labels.js) run on files, for the parity test
// (tests/verify/test_metadata_labels_parity.py). Reads a JSON list from stdin: [{path, alpha?: {path, width, height}}];
// writes the results as a JSON list. An `alpha` plane (row-major bytes, decoded by the test with Pillow) stands in
// for the pixel decoder the extension gives the reader.
import { readFileSync } from 'node:fs';
import { readMetadataLabels } from '../../extension/standalone/metadata-labels.js';

const items = JSON.parse(readFileSync(0, 'utf8'));
const out = [];
for (const item of items) {
  const bytes = new Uint8Array(readFileSync(item.path));
  const decodeAlpha = item.alpha
    ? async () => ({ alpha: new Uint8Array(readFileSync(item.alpha.path)), width: item.alpha.width, height: item.alpha.height })
    : undefined;
  out.push(await readMetadataLabels(bytes, item.mime, { decodeAlpha }));
}
process.stdout.write(JSON.stringify(out));
