"""languages: a customer's and a portal user's language (pages and e-mails)

Revision ID: b4d8e2f6a1c3
Revises: b4c8e2a6d0f1
Create Date: 2026-12-07 22:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = 'b4d8e2f6a1c3'
down_revision: str | Sequence[str] | None = 'b4c8e2a6d0f1'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # "" = not set: pages follow the browser, e-mails are in English.
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                      server_default=''))
    with op.batch_alter_table('portal_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                      server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('portal_user', schema=None) as batch_op:
        batch_op.drop_column('language')
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.drop_column('language')
