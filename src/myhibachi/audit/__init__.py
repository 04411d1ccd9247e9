"""The audit log: an append-only trail of who changed what, written with the change."""
