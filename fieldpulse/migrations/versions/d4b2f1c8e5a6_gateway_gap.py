"""gateway gap: readings a gateway reports it evicted or lost, with time ranges

Revision ID: d4b2f1c8e5a6
Revises: c3a1e0b7d2f4
Create Date: 2026-12-07 19:35:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = 'd4b2f1c8e5a6'
down_revision: str | Sequence[str] | None = 'c3a1e0b7d2f4'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'gateway_gap',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('gateway_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('readings', sa.Integer(), nullable=False),
        sa.Column('total', sa.BigInteger(), nullable=False),
        sa.Column('since_ts', sa.BigInteger(), nullable=True),
        sa.Column('until_ts', sa.BigInteger(), nullable=False),
        sa.Column('received_at', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('gateway_gap', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_gateway_gap_gateway_id'), ['gateway_id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('gateway_gap', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_gateway_gap_gateway_id'))
    op.drop_table('gateway_gap')
