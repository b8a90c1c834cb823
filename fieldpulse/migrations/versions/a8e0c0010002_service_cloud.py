"""service cloud: SLA policies and clocks, preventive maintenance

Revision ID: a8e0c0010002
Revises: a8e0c0010001
Create Date: 2026-11-27 16:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = 'a8e0c0010002'
down_revision: str | Sequence[str] | None = 'a8e0c0010001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The case's SLA clocks (dispatch/sla.py): due times, when met, warned, breached.
CLOCK_COLUMNS = ('response_due', 'resolution_due', 'response_met_at', 'resolution_met_at',
                 'response_warned_at', 'resolution_warned_at', 'response_breached_at',
                 'resolution_breached_at')


def upgrade() -> None:
    with op.batch_alter_table('customer', schema=None) as batch_op:
        # Existing customers get the default contract.
        batch_op.add_column(sa.Column('contract_level', sqlmodel.sql.sqltypes.AutoString(),
                                      nullable=False, server_default='standard'))

    with op.batch_alter_table('case', schema=None) as batch_op:
        # Cases opened before clocks existed have none (NULL due times: not monitored).
        batch_op.add_column(sa.Column('sla_level', sqlmodel.sql.sqltypes.AutoString(),
                                      nullable=False, server_default=''))
        for name in CLOCK_COLUMNS:
            batch_op.add_column(sa.Column(name, sa.BigInteger(), nullable=True))

    op.create_table('maintenance_visit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('plan_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('due_at', sa.BigInteger(), nullable=True),
    sa.Column('opened_at', sa.BigInteger(), nullable=False),
    sa.Column('done_at', sa.BigInteger(), nullable=True),
    sa.Column('done_run_hours', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], ),
    sa.ForeignKeyConstraint(['device_id'], ['device.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('device_id', 'plan_id', 'seq', name='ux_maintenance_visit_occurrence')
    )
    with op.batch_alter_table('maintenance_visit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_maintenance_visit_device_id'), ['device_id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('maintenance_visit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_maintenance_visit_device_id'))

    op.drop_table('maintenance_visit')

    with op.batch_alter_table('case', schema=None) as batch_op:
        for name in reversed(CLOCK_COLUMNS):
            batch_op.drop_column(name)
        batch_op.drop_column('sla_level')

    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.drop_column('contract_level')
