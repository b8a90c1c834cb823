"""Webhook subscriptions and their delivery log."""
