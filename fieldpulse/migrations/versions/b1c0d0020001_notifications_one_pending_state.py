"""notifications: one waiting state, "pending", for every notifier

Revision ID: b1c0d0020001
Revises: a8e0c0010003
Create Date: 2026-12-07 16:00:00.000000

Alert notifications used to wait as "recorded" and the others as "pending"; one
delivery worker now sends every "pending" one.
"""

from collections.abc import Sequence

from alembic import op

revision: str = 'b1c0d0020001'
down_revision: str | Sequence[str] | None = 'a8e0c0010003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("UPDATE notification SET status = 'pending' WHERE status = 'recorded'")


def downgrade() -> None:
    op.execute("UPDATE notification SET status = 'recorded' "
                "WHERE status = 'pending' AND alert_id IS NOT NULL")
