"""Webhooks to external CRMs: subscriptions, signed deliveries, the delivery log."""
