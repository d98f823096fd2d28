/*
 * The verdict rule for the declared checks only (the part of server/verify/verdict.py that needs no server): ranks
 * the Signals the c2pa_manifest and metadata_labels results carry into the same verdict shape the server returns
 * ({label, summary, refuted, reasons, not_meaning}), and wraps it in the server's response shape, marked
 * `mode: "standalone"` so the badge, card and report page say that only the declared checks ran. Refutations,
 * watermarks, visible labels, matching and detectors exist only on a server; with one, its verdict supersedes this.
 * Keep the texts in step with verdict.py (tests/test_standalone_parity.py compares them with it).
 */

export const LABELS = Object.freeze(['synthetic', 'provenance_invalid', 'likely_synthetic', 'has_provenance',
  'untrusted_provenance', 'unknown']);
// The checks standalone mode runs (both declared: they read what the file says about itself).
export const STANDALONE_CHECKS = Object.freeze(['c2pa_manifest', 'metadata_labels']);

const RANK = [
  ['declared_synthetic', 'synthetic', 'Declared AI-generated or AI-edited.'],
  ['provenance_invalid', 'provenance_invalid', 'Its Content Credentials fail validation.'],
  ['possibly_synthetic', 'likely_synthetic', 'Possibly AI-generated.'],
  ['provenance_valid', 'has_provenance',
    'Has valid Content Credentials from a signer a trust list vouches for; they declare no AI generation.'],
  ['provenance_untrusted', 'untrusted_provenance',
    'Signed, but no trust list vouches for the signer; the credentials declare no AI generation.'],
];

export const PROVENANCE_SUMMARIES = Object.freeze({
  content_altered: 'Its Content Credentials do not match the content: the file was altered after it was signed.',
  claim_altered: 'Its Content Credentials are broken: the signature or a signed statement does not match, so the '
    + 'credentials were altered or damaged after signing.',
  certificate_expired: 'Signed, but the signing certificate had expired and no trusted timestamp shows it was '
    + 'signed in time: the content was not found altered, but no trust list vouches for the signer.',
  certificate_revoked: 'Signed with a certificate that has since been revoked: the content was not found altered, '
    + 'but no trust list vouches for the signer.',
  certificate_invalid: 'Signed, but the signing certificate or its timestamp fails validation: the content was not '
    + 'found altered, but no trust list vouches for the signer.',
  test_certificate: 'Signed with a public C2PA test certificate, which anyone can use: the credentials are intact '
    + 'but say nothing about who made the file, and declare no AI generation.',
  signer_untrusted: 'Signed, but no trust list vouches for the signer: the credentials are intact, yet anyone can '
    + 'sign with a certificate of their own; they declare no AI generation.',
});

export const NOT_MEANING = Object.freeze({
  synthetic: 'It does not say the media is false or misleading, or what in it was generated: AI edits count too, '
    + 'and a declaration is only as honest as whoever made it.',
  provenance_invalid: 'It does not say the media is AI-generated or fake: only that its credentials and the file '
    + 'no longer agree.',
  likely_synthetic: 'It is not a declaration and not proof: a softer label or a detector score that can be wrong.',
  has_provenance: 'It does not say the media is true or unedited: it says who signed it and what they declared.',
  untrusted_provenance: 'It does not say who made the media: anyone can sign with a certificate of their own.',
  unknown: 'It does not mean the media is authentic: most media carries no signal at all.',
});

const UNKNOWN_SUMMARY = 'No provenance, AI label or other signal was found. This does not mean the media is authentic.';

/**
 * A metadata_labels result as the metadata-labels module gives it ({check, label, reason, evidence}) or already
 * CheckResult-shaped ({check, outcome, summary, signal, evidence}): the CheckResult shape the rule ranks.
 */
export function asCheckResult(r) {
  if (!r) return null;
  if ('outcome' in r) return { score: null, evidence: {}, signal: null, ...r };
  const signal = r.label === 'synthetic' ? 'declared_synthetic' : r.label === 'likely_synthetic' ? 'possibly_synthetic'
    : null;
  return { check: r.check, outcome: signal ? 'detected' : 'not_detected', summary: String(r.reason || ''), score: null,
    evidence: r.evidence || {}, signal };
}

/** Combine check results into one verdict (verdict.py `_decide`, without refutations: those need a server). */
export function decide(results) {
  const order = new Map(RANK.map(([signal], i) => [signal, i]));
  const signalled = results.filter((r) => r && r.signal && r.outcome === 'detected' && order.has(r.signal))
    .map((r, i) => [order.get(r.signal), i, r]).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map((x) => x[2]);
  const reasons = signalled.map((r) => ({ check: r.check, signal: r.signal, text: r.summary }));
  if (!signalled.length) {
    const errors = results.filter((r) => r && r.outcome === 'error').map((r) => r.check);
    let summary = UNKNOWN_SUMMARY;
    if (errors.length) summary += ` Some checks could not run: ${errors.join(', ')}.`;
    return verdictOf('unknown', summary, reasons);
  }
  const top = signalled[0];
  const [, label, fallback] = RANK[order.get(top.signal)];
  let summary = fallback;
  if (top.signal === 'provenance_invalid' || top.signal === 'provenance_untrusted') {
    summary = PROVENANCE_SUMMARIES[String(top.evidence && top.evidence.failure_class)] || fallback;
  }
  return verdictOf(label, summary, reasons);
}

function verdictOf(label, summary, reasons) {
  return { label, summary, refuted: false, reasons, not_meaning: NOT_MEANING[label] };
}

/**
 * The whole response, shaped like the server's (VerifyReport.to_json) so the same badge, card and report page show
 * it; `mode: "standalone"` and `verification.pipeline` say that only the declared checks ran, in this browser.
 */
export function standaloneResponse(sha256, mediaType, results) {
  const checks = results.filter(Boolean);
  return {
    mode: 'standalone',
    verification: { id: null, verified_at: new Date().toISOString().replace(/\.\d{3}Z$/, '+00:00'),
      pipeline_version: null, pipeline: `standalone:${STANDALONE_CHECKS.join(',')}` },
    sha256,
    media_type: mediaType || null,
    verdict: decide(checks),
    checks,
    refutation: null,
  };
}
