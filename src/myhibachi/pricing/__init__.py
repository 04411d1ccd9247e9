"""Pricing: each station's business rules and the one quote function every caller uses."""
