"""Shared foundations of every FieldPulse process: the database, the clock, child
processes and background workers. Nothing here knows a domain concept; every other
package may import it, and it imports none of them.

Each module imports only what it needs, so a gateway (no SQLAlchemy installed) can
use `clock` and `workers` while `database` stays a cloud-side module.
"""
