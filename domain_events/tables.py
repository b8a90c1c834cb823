"""The domain-event outbox table."""
