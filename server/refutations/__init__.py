"""Refutations (Art. 13 rumor refutation): what fact-checkers have refuted, and every way it arrives.

    ingest.py    the one ingestion path: a refutation plus its media in, hashes computed, stored, audited
    api.py       GET/POST /v1/refutations (blueprint "refutations")
    claims.py    schema.org ClaimReview / MediaReview (JSON-LD) in and out
"""
