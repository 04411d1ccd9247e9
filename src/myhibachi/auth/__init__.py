"""Staff identity: users, per-station roles, sessions, password reset and the permission table."""
