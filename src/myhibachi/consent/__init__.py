"""Consent: the append-only ledger of each contact's grants, confirmations and withdrawals per channel and purpose,
and the double opt-in that turns a grant into a confirmed one (SPEC §7 "Consent and newsletters")."""
