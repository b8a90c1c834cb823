"""sales cloud: consumable forecasts and opportunities

Revision ID: a8e0c0010003
Revises: a8e0c0010002
Create Date: 2026-11-27 16:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = 'a8e0c0010003'
down_revision: str | Sequence[str] | None = 'a8e0c0010002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = sa.text("status IN ('open', 'offered', 'accepted')")


def upgrade() -> None:
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sales_owner_email', sqlmodel.sql.sqltypes.AutoString(),
                                      nullable=False, server_default=''))
    op.create_table('opportunity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('customer_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('product', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('predicted_date', sa.BigInteger(), nullable=False),
    sa.Column('predicted_early', sa.BigInteger(), nullable=True),
    sa.Column('predicted_late', sa.BigInteger(), nullable=True),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('owner', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.Column('decided_by', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('work_order_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ),
    sa.ForeignKeyConstraint(['device_id'], ['device.id'], ),
    sa.ForeignKeyConstraint(['work_order_id'], ['work_order.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('opportunity', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_opportunity_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_opportunity_device_id'), ['device_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_opportunity_owner'), ['owner'], unique=False)
        batch_op.create_index(batch_op.f('ix_opportunity_status'), ['status'], unique=False)
        # One active opportunity per device and product, kept by the database itself.
        batch_op.create_index('ux_opportunity_one_active', ['device_id', 'product'], unique=True,
                              sqlite_where=ACTIVE, postgresql_where=ACTIVE)
    op.create_table('consumable_day',
    sa.Column('device_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('day', sa.BigInteger(), nullable=False),
    sa.Column('samples', sa.Integer(), nullable=False),
    sa.Column('litres', sa.Float(), nullable=False),
    sa.Column('run_hours', sa.Float(), nullable=False),
    sa.Column('pressure', sa.Float(), nullable=True),
    sa.Column('reset_at', sa.BigInteger(), nullable=True),
    sa.Column('litres_after_reset', sa.Float(), nullable=False),
    sa.Column('counter_last', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['device_id'], ['device.id'], ),
    sa.PrimaryKeyConstraint('device_id', 'day')
    )
    op.create_table('site_water',
    sa.Column('site_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('feed_tds_ppm', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], ),
    sa.PrimaryKeyConstraint('site_id')
    )


def downgrade() -> None:
    op.drop_table('site_water')
    op.drop_table('consumable_day')
    with op.batch_alter_table('opportunity', schema=None) as batch_op:
        batch_op.drop_index('ux_opportunity_one_active')
        batch_op.drop_index(batch_op.f('ix_opportunity_status'))
        batch_op.drop_index(batch_op.f('ix_opportunity_owner'))
        batch_op.drop_index(batch_op.f('ix_opportunity_device_id'))
        batch_op.drop_index(batch_op.f('ix_opportunity_customer_id'))
    op.drop_table('opportunity')
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.drop_column('sales_owner_email')
