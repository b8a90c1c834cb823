"""visit link: the customer's token to follow one visit (engineer, live ETA)

Revision ID: b4d2f6a8c0e1
Revises: b4d8e2f6a1c3
Create Date: 2026-12-07 22:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = 'b4d2f6a8c0e1'
down_revision: str | Sequence[str] | None = 'b4d8e2f6a1c3'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('visit_link',
    sa.Column('token', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('work_order_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['work_order_id'], ['work_order.id'], ),
    sa.PrimaryKeyConstraint('token'),
    sa.UniqueConstraint('work_order_id')
    )


def downgrade() -> None:
    op.drop_table('visit_link')
