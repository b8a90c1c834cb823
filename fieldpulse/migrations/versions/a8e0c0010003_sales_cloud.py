"""sales cloud: consumable forecasts and opportunities

Revision ID: a8e0c0010003
Revises: a8e0c0010002
Create Date: 2026-11-27 16:00:00.000000
"""

from collections.abc import Sequence

revision: str = 'a8e0c0010003'
down_revision: str | Sequence[str] | None = 'a8e0c0010002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
