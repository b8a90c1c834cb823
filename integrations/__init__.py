"""Integrations with the systems around FieldPulse: domain events written with every
change (`domain_events`), webhooks that deliver them to CRMs (`webhooks`), and
idempotency keys for what CRMs write back (`idempotency`)."""
