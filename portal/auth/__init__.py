"""Access control for the portal: users and roles, API tokens, sessions, CSRF,
rate limits for the public pages, and the audit log."""
