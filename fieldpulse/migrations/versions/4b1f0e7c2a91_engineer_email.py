"""engineer e-mail address, for work-order notifications

Revision ID: 4b1f0e7c2a91
Revises: 821218a98160
Create Date: 2026-11-27 15:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '4b1f0e7c2a91'
down_revision: str | Sequence[str] | None = '821218a98160'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('engineer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email', sqlmodel.sql.sqltypes.AutoString(),
                                      nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('engineer', schema=None) as batch_op:
        batch_op.drop_column('email')
