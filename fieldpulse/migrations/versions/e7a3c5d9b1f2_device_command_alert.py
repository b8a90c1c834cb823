"""device command alert: a command sent from an alert (its steps on the alert's trail)

Revision ID: e7a3c5d9b1f2
Revises: e7c3a9d1f2b4
Create Date: 2026-12-07 20:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'e7a3c5d9b1f2'
down_revision: str | Sequence[str] | None = 'e7c3a9d1f2b4'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('device_command', schema=None) as batch_op:
        batch_op.add_column(sa.Column('alert_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_device_command_alert_id'), ['alert_id'],
                              unique=False)
        batch_op.create_foreign_key('fk_device_command_alert_id_alert', 'alert',
                                    ['alert_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('device_command', schema=None) as batch_op:
        batch_op.drop_constraint('fk_device_command_alert_id_alert', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_device_command_alert_id'))
        batch_op.drop_column('alert_id')
