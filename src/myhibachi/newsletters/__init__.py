"""Newsletters: segments of the station's people, campaigns rendered from markdown and sent in throttled batches
(one row per recipient, so each gets exactly one message), open and click tracking, and the bounces and
complaints that suppress an address (SPEC §7 "Consent and newsletters")."""
