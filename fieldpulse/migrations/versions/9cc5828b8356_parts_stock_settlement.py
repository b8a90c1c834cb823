"""Spare parts: stock locations, the movement ledger, levels and replenishment requests;
settlements; the parts a work order needs, its plan note and pick-up warehouse; the
customer's coverage;
a notification's attachment.

Revision ID: 9cc5828b8356
Revises: 2a09effcc678
Create Date: 2026-12-07 19:05:07.766518
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '9cc5828b8356'
down_revision: str | Sequence[str] | None = '2a09effcc678'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('stock_location',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('engineer_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['engineer_id'], ['engineer.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('engineer_id')
    )
    op.create_table('replenishment_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('location_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('part_number', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('qty', sa.Integer(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('raised_at', sa.BigInteger(), nullable=False),
    sa.Column('fulfilled_at', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['location_id'], ['stock_location.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('replenishment_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_replenishment_request_location_id'), ['location_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_replenishment_request_status'), ['status'], unique=False)

    op.create_table('stock_level',
    sa.Column('location_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('part_number', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('on_hand', sa.Integer(), nullable=False),
    sa.Column('reserved', sa.Integer(), nullable=False),
    sa.Column('min_qty', sa.Integer(), nullable=False),
    sa.Column('reorder_qty', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['location_id'], ['stock_location.id'], ),
    sa.PrimaryKeyConstraint('location_id', 'part_number')
    )
    op.create_table('settlement',
    sa.Column('work_order_id', sa.Integer(), nullable=False),
    sa.Column('coverage', sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default='chargeable'),
    sa.Column('lines', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('currency', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('total_cents', sa.Integer(), nullable=False),
    sa.Column('labour_minutes', sa.Integer(), nullable=False),
    sa.Column('report_file', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('settled_by', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('settled_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['work_order_id'], ['work_order.id'], ),
    sa.PrimaryKeyConstraint('work_order_id')
    )
    op.create_table('stock_movement',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('part_number', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('qty', sa.Integer(), nullable=False),
    sa.Column('from_location', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('to_location', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('work_order_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.BigInteger(), nullable=False),
    sa.Column('by', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.ForeignKeyConstraint(['from_location'], ['stock_location.id'], ),
    sa.ForeignKeyConstraint(['to_location'], ['stock_location.id'], ),
    sa.ForeignKeyConstraint(['work_order_id'], ['work_order.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('stock_movement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stock_movement_from_location'), ['from_location'], unique=False)
        batch_op.create_index(batch_op.f('ix_stock_movement_part_number'), ['part_number'], unique=False)
        batch_op.create_index(batch_op.f('ix_stock_movement_to_location'), ['to_location'], unique=False)
        batch_op.create_index(batch_op.f('ix_stock_movement_work_order_id'), ['work_order_id'], unique=False)

    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('coverage', sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default='chargeable'))

    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attachment', sqlmodel.sql.sqltypes.AutoString(), nullable=True))

    with op.batch_alter_table('work_order', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parts_needed', sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('plan_note', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column('pickup_from', sqlmodel.sql.sqltypes.AutoString(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('work_order', schema=None) as batch_op:
        batch_op.drop_column('pickup_from')
        batch_op.drop_column('plan_note')
        batch_op.drop_column('parts_needed')

    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_column('attachment')

    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.drop_column('coverage')

    with op.batch_alter_table('stock_movement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stock_movement_work_order_id'))
        batch_op.drop_index(batch_op.f('ix_stock_movement_to_location'))
        batch_op.drop_index(batch_op.f('ix_stock_movement_part_number'))
        batch_op.drop_index(batch_op.f('ix_stock_movement_from_location'))

    op.drop_table('stock_movement')
    op.drop_table('settlement')
    op.drop_table('stock_level')
    with op.batch_alter_table('replenishment_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_replenishment_request_status'))
        batch_op.drop_index(batch_op.f('ix_replenishment_request_location_id'))

    op.drop_table('replenishment_request')
    op.drop_table('stock_location')
