/*
 * What a C2PA manifest store says, as the server's c2pa_manifest check says it (server/verify/checks/c2pa_manifest.py):
 * validation state, failure class, signer, and AI source types declared in the active or an ingredient manifest.
 * Pure: takes the manifest store JSON that c2pa-rs (here its WebAssembly build, @contentauth/c2pa-wasm) reports, or
 * the error it raised, and returns a CheckResult-shaped object {check, outcome, summary, score, evidence, signal}.
 * The parity test (tests/test_standalone_parity.py) runs both on every C2PA fixture; keep the two in step.
 */

export const NAME = 'c2pa_manifest';
export const AI_SOURCE_TYPES = Object.freeze(['trainedAlgorithmicMedia', 'compositeWithTrainedAlgorithmicMedia',
  'compositeSynthetic']);
// Failures about the signing certificate or timestamp only: the manifest's statements are intact.
const CERT_FAILURE = /^(signingCredential\.|timeStamp\.|cawg\.x509\.credential\.)/;
// The remote-manifest error as c2pa-python words it, and as the WebAssembly build does (RemoteManifestUrl("...")).
const REMOTE = /Remote:.*?url\s+(\S+)|RemoteManifestUrl\("([^"]+)"\)/;
const CONTENT_HASH = /^assertion\.(dataHash|bmffHash|boxesHash|collectionHash)\.mismatch$/;
export const TEST_CERT_ISSUERS = Object.freeze(['C2PA Test Signing Cert', 'C2PA Test Intermediate Root CA',
  'C2PA Test Root CA']);
// c2pa-rs errors that mean "no manifest here" (the Python binding answers None for them).
const NO_MANIFEST = /JumbfNotFound|ManifestNotFound|ProvenanceMissing/;
const NOT_SUPPORTED = /UnsupportedType|NotSupported/;

export function sourceTypeName(uri) {
  return String(uri).trim().replace(/\/+$/, '').split('/').pop();
}

function actionsOf(manifest) {
  const out = [];
  for (const assertion of manifest.assertions || []) {
    if (String(assertion.label || '').startsWith('c2pa.actions')) {
      const data = assertion.data || {};
      for (const a of data.actions || []) if (a && typeof a === 'object' && !Array.isArray(a)) out.push(a);
    }
  }
  return out;
}

function declarations(manifest, role) {
  const found = [];
  const basis = new Set();
  for (const action of actionsOf(manifest)) {
    const name = action.action === undefined ? null : action.action;
    if ('digitalSourceType' in action) {
      const dst = sourceTypeName(action.digitalSourceType);
      found.push({ manifest: role, action: name, digitalSourceType: dst, via: 'digitalSourceType' });
      if (AI_SOURCE_TYPES.includes(dst)) basis.add(`digitalSourceType_${role}`);
    }
    const params = action.parameters && typeof action.parameters === 'object' ? action.parameters : null;
    const vendor = params ? params['com.adobe.digitalSourceType'] : null;
    if (vendor) {
      const dst = sourceTypeName(vendor);
      found.push({ manifest: role, action: name, digitalSourceType: dst, via: 'com.adobe.digitalSourceType' });
      if (AI_SOURCE_TYPES.includes(dst)) basis.add('vendor_parameter_com.adobe.digitalSourceType');
    }
    const desc = String((params && params.description) || '') + String(action.description || '');
    if (desc.toLowerCase().includes('ai generated image')) basis.add('action_description_ai_generated');
  }
  for (const assertion of manifest.assertions || []) {
    if (String(assertion.label || '').startsWith('com.adobe.generative-ai')) basis.add('assertion_com.adobe.generative-ai');
  }
  return { found, basis };
}

function claimGenerator(manifest) {
  if (manifest.claim_generator) return String(manifest.claim_generator);
  const info = manifest.claim_generator_info || [];
  return info.length && info[0] && typeof info[0] === 'object' && info[0].name ? String(info[0].name) : null;
}

/** The one class of finding that keeps a manifest from being vouched for; null for a trusted, intact one. */
export function failureClass(state, failures, issuer) {
  if (state === 'Trusted' && failures.length === 0) return null;
  const hard = failures.filter((c) => !CERT_FAILURE.test(c));
  if (hard.some((c) => CONTENT_HASH.test(c))) return 'content_altered';
  if (hard.length) return 'claim_altered';
  if (failures.includes('signingCredential.revoked')) return 'certificate_revoked';
  if (failures.includes('signingCredential.expired')) return 'certificate_expired';
  if (state === 'Invalid') return 'certificate_invalid';
  if (TEST_CERT_ISSUERS.includes(issuer)) return 'test_certificate';
  return state !== 'Trusted' ? 'signer_untrusted' : null;
}

const TRUST_NOTE = {
  null: 'trusted signer',
  test_certificate: 'anyone can sign with it; no trust list vouches for it',
  signer_untrusted: 'valid signature, but no trust list vouches for the signer',
  certificate_expired: 'the signing certificate had expired and no trusted timestamp shows it was signed in time',
  certificate_revoked: 'the signing certificate was revoked',
  certificate_invalid: 'the signing certificate or its timestamp fails validation',
};

function result(outcome, summary, signal = null, evidence = {}) {
  return { check: NAME, outcome, summary, score: null, evidence, signal };
}

/**
 * The check result for one file. `read` is {store} (the parsed `reader.json()` of c2pa-rs) or {error} (the text of
 * the error c2pa-rs raised). Remote manifests are never fetched here (standalone mode sends nothing anywhere).
 */
export function c2paResult(read) {
  if (read.error !== undefined && read.error !== null) {
    const text = String(read.error);
    const remote = REMOTE.exec(text);
    if (remote) {
      return result('detected', 'References a remote C2PA manifest; remote manifests are not fetched (the deployment '
        + 'or --fetch-remote-manifests can allow it).', null,
      { remote_url: remote[1] || remote[2], remote_fetched: false, validation_state: null });
    }
    if (NO_MANIFEST.test(text)) return result('not_detected', 'No C2PA manifest.');
    if (NOT_SUPPORTED.test(text)) return result('unsupported', `C2PA is not read from ${read.format || 'these'} files.`);
    return result('unsupported', "The file's structure could not be parsed for C2PA data.", null,
      { validation_state: null, error: text.slice(0, 300) });
  }
  const store = read.store || {};
  const manifests = store.manifests || {};
  const activeLabel = store.active_manifest;
  const active = (activeLabel && manifests[activeLabel]) || {};
  const state = store.validation_state || 'Unknown';
  const results = store.validation_results || {};

  const declared = [];
  const basis = new Set();
  for (const [label, manifest] of Object.entries(manifests)) {
    const { found, basis: b } = declarations(manifest, label === activeLabel ? 'active' : 'ingredient');
    declared.push(...found);
    for (const x of b) basis.add(x);
  }
  const failures = (((results.activeManifest || {}).failure) || []).map((f) => f.code || '');
  const hardFailures = failures.filter((c) => !CERT_FAILURE.test(c));
  const sig = active.signature_info || {};
  const signer = { issuer: sig.issuer ?? null, common_name: sig.common_name ?? null, time: sig.time ?? null };
  const ingredients = (active.ingredients || []).map((i) => ({ title: i.title ?? null, format: i.format ?? null,
    relationship: i.relationship ?? null, has_manifest: Boolean(i.active_manifest) }));
  const cls = failureClass(state, failures, signer.issuer);
  const evidence = {
    validation_state: state,
    failure_codes: failures,
    failure_class: cls,
    trusted: cls === null,
    test_certificate: TEST_CERT_ISSUERS.includes(signer.issuer),
    certificate_only_failures: failures.length > 0 && hardFailures.length === 0,
    signer,
    claim_generator: claimGenerator(active),
    manifests: Object.keys(manifests).length,
    digital_source_types: declared,
    ai_basis: Array.from(basis).sort(),
    ingredients,
    remote_url: null,
    remote_fetched: false,
  };
  let who = signer.issuer || 'an unknown signer';
  if (evidence.test_certificate) who = `the public C2PA test certificate (${who})`;
  if (hardFailures.length) {
    const what = cls === 'content_altered' ? 'the content was altered after signing'
      : 'a signed statement or the signature does not match, so the credentials were altered or damaged';
    return result('detected', `C2PA manifest signed by ${who} fails validation (${hardFailures.join(', ')}): ${what}.`,
      'provenance_invalid', evidence);
  }
  const note = TRUST_NOTE[cls] ?? '';
  if (basis.size) {
    const roles = Array.from(new Set(declared.filter((d) => AI_SOURCE_TYPES.includes(d.digitalSourceType))
      .map((d) => d.manifest))).sort();
    const key = roles.join(',');
    const where = key === 'ingredient' ? 'an ingredient manifest' : key === 'active' ? 'the active manifest'
      : roles.length ? 'the active manifest and an ingredient' : 'its manifest';
    const typesFound = Array.from(new Set(declared.map((d) => d.digitalSourceType)
      .filter((t) => AI_SOURCE_TYPES.includes(t)))).sort();
    const types = typesFound.length ? typesFound : ['AI generation'];
    const codes = failures.length ? `; ${failures.join(', ')}` : '';
    return result('detected', `C2PA manifest signed by ${who} declares ${types.join(', ')} in ${where} (${note}${codes}).`,
      'declared_synthetic', evidence);
  }
  if (cls === null) {
    return result('detected', `Valid C2PA manifest signed by ${who} (trusted signer); no AI source type declared.`,
      'provenance_valid', evidence);
  }
  const codes = failures.length ? ` (${failures.join(', ')})` : '';
  return result('detected', `C2PA manifest signed by ${who}: ${note}${codes}; the content matches the signature `
    + 'and no AI source type is declared.', 'provenance_untrusted', evidence);
}

/**
 * The container format c2pa-rs should parse, from the bytes' magic numbers (a server's Content-Type can be wrong or
 * missing), else the Content-Type given. Returns a MIME type c2pa-rs knows, or null.
 */
export function sniffFormat(bytes, mime) {
  const b = bytes;
  const ascii = (from, to) => String.fromCharCode(...b.subarray(from, to));
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
  if (b.length >= 8 && b[0] === 0x89 && ascii(1, 4) === 'PNG') return 'image/png';
  if (b.length >= 12 && ascii(0, 4) === 'RIFF') {
    const kind = ascii(8, 12);
    if (kind === 'WEBP') return 'image/webp';
    if (kind === 'WAVE') return 'audio/wav';
    if (kind === 'AVI ') return 'video/avi';
  }
  if (b.length >= 4 && (ascii(0, 4) === 'II*\u0000' || ascii(0, 4) === 'MM\u0000*')) return 'image/tiff';
  if (b.length >= 12 && ascii(4, 8) === 'ftyp') {
    const brand = ascii(8, 12);
    if (brand === 'avif' || brand === 'avis') return 'image/avif';
    if (['heic', 'heix', 'mif1', 'msf1', 'heim', 'heis'].includes(brand)) return 'image/heic';
    if (brand === 'qt  ') return 'video/quicktime';
    if (brand.startsWith('M4A')) return 'audio/mp4';
    return 'video/mp4';
  }
  if (b.length >= 3 && ascii(0, 3) === 'ID3') return 'audio/mpeg';
  if (b.length >= 2 && b[0] === 0xff && (b[1] & 0xe0) === 0xe0) return 'audio/mpeg';
  if (b.length >= 4 && ascii(0, 4) === 'fLaC') return 'audio/flac';
  const given = String(mime || '').split(';')[0].trim().toLowerCase();
  return given || null;
}
