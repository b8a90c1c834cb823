"""catalogue part: parts of the catalogue as edited through the API

Revision ID: b4e8d2f6a1c3
Revises: e7a3c5d9b1f2
Create Date: 2026-12-07 22:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = 'b4e8d2f6a1c3'
down_revision: str | Sequence[str] | None = 'e7a3c5d9b1f2'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'catalogue_part',
        sa.Column('number', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('price_cents', sa.Integer(), nullable=False),
        sa.Column('consumable', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('model_ids', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('needs', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('updated_at', sa.BigInteger(), nullable=False),
        sa.Column('updated_by', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.PrimaryKeyConstraint('number'),
    )


def downgrade() -> None:
    op.drop_table('catalogue_part')
