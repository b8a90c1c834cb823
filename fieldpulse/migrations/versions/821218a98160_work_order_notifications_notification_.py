"""work-order notifications: notification.work_order_id, alert_id nullable, notification_cursor

Revision ID: 821218a98160
Revises: 23dd9f6e406f
Create Date: 2026-11-27 15:37:21.747123
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '821218a98160'
down_revision: str | Sequence[str] | None = '23dd9f6e406f'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# PostgreSQL's own name for an unnamed foreign key, given here so that downgrade can drop it.
FK_NAME = 'notification_work_order_id_fkey'


def upgrade() -> None:
    op.create_table('notification_cursor',
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('last_id', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.add_column(sa.Column('work_order_id', sa.Integer(), nullable=True))
        batch_op.alter_column('alert_id',
               existing_type=sa.INTEGER(),
               nullable=True)
        batch_op.create_index(batch_op.f('ix_notification_work_order_id'), ['work_order_id'], unique=False)
        batch_op.create_foreign_key(FK_NAME, 'work_order', ['work_order_id'], ['id'])


def downgrade() -> None:
    # Work-order notices have no alert; the older schema cannot hold them.
    op.execute("DELETE FROM notification WHERE alert_id IS NULL")
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_constraint(FK_NAME, type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_notification_work_order_id'))
        batch_op.alter_column('alert_id',
               existing_type=sa.INTEGER(),
               nullable=False)
        batch_op.drop_column('work_order_id')

    op.drop_table('notification_cursor')
