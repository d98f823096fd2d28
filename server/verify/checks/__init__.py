"""One module per signal, each `check(media, ctx) -> CheckResult`; server/verify/registry.py describes them."""
