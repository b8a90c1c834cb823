"""domain event outbox, webhook subscriptions and deliveries, idempotency keys

Revision ID: a8e0c0010001
Revises: 4b1f0e7c2a91
Create Date: 2026-11-27 16:00:00.000000
"""

from collections.abc import Sequence

revision: str = 'a8e0c0010001'
down_revision: str | Sequence[str] | None = '4b1f0e7c2a91'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
