// Runs the extension's standalone check under node, for the parity test (tests/test_standalone_parity.py): the very
// function the C2PA worker runs (extension/standalone/check.js checkBytes) on the engine the packages bundle
// (node-engine.mjs). Reads a JSON list from stdin, [{path, mime?, alpha?: {path, width, height}}]; writes one JSON
// line per file: {file, ms, response} with `response` the standalone response (verdict.js standaloneResponse).
import { readFileSync } from 'node:fs';
import { checkBytes } from '../../extension/standalone/check.js';
import { nodeEngine } from './node-engine.mjs';

for (const item of JSON.parse(readFileSync(0, 'utf8'))) {
  const bytes = new Uint8Array(readFileSync(item.path));
  const engine = await nodeEngine({ alpha: item.alpha });
  const started = performance.now();
  const response = await checkBytes(engine, bytes, item.mime || '', null);
  process.stdout.write(JSON.stringify({ file: item.path, ms: performance.now() - started, response }) + '\n');
}
