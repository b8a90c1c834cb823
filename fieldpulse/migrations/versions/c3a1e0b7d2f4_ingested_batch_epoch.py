"""ingested batch epoch in the dedupe key

Revision ID: c3a1e0b7d2f4
Revises: 9cc5828b8356
Create Date: 2026-12-07 19:10:00

The dedupe key becomes (gateway_id, epoch, seq); every batch stored so far had no epoch
and keeps the empty one, so a gateway that sends none is deduplicated as before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = 'c3a1e0b7d2f4'
down_revision: str | Sequence[str] | None = '9cc5828b8356'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = "gateway_id, epoch, seq, received_at, readings, rejected, payload_hash"


def _table(name: str, key: tuple[str, ...]) -> None:
    epoch = [sa.Column('epoch', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False)]
    op.create_table(
        name,
        sa.Column('gateway_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        *(epoch if 'epoch' in key else []),
        sa.Column('seq', sa.BigInteger(), nullable=False),
        sa.Column('received_at', sa.BigInteger(), nullable=False),
        sa.Column('readings', sa.Integer(), nullable=False),
        sa.Column('rejected', sa.Integer(), nullable=False),
        sa.Column('payload_hash', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.PrimaryKeyConstraint(*key),
    )


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.add_column('ingested_batch', sa.Column(
            'epoch', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False,
            server_default=''))
        op.alter_column('ingested_batch', 'epoch', server_default=None)
        op.drop_constraint('ingested_batch_pkey', 'ingested_batch', type_='primary')
        op.create_primary_key('ingested_batch_pkey', 'ingested_batch',
                              ['gateway_id', 'epoch', 'seq'])
        return
    # SQLite cannot change a primary key in place: copy into the new shape.
    _table('ingested_batch_new', ('gateway_id', 'epoch', 'seq'))
    op.execute(f"INSERT INTO ingested_batch_new ({_COLUMNS}) SELECT "
               f"{_COLUMNS.replace('epoch', chr(39) * 2)} FROM ingested_batch")
    op.drop_table('ingested_batch')
    op.rename_table('ingested_batch_new', 'ingested_batch')


def downgrade() -> None:
    # Two epochs of one gateway may share a seq: only the oldest row of a key survives.
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DELETE FROM ingested_batch a USING ingested_batch b WHERE a.gateway_id = "
                   "b.gateway_id AND a.seq = b.seq AND a.received_at > b.received_at")
        op.drop_constraint('ingested_batch_pkey', 'ingested_batch', type_='primary')
        op.create_primary_key('ingested_batch_pkey', 'ingested_batch', ['gateway_id', 'seq'])
        op.drop_column('ingested_batch', 'epoch')
        return
    _table('ingested_batch_old', ('gateway_id', 'seq'))
    old = _COLUMNS.replace('epoch, ', '')
    op.execute(f"INSERT OR IGNORE INTO ingested_batch_old ({old}) SELECT {old} "
               "FROM ingested_batch ORDER BY received_at")
    op.drop_table('ingested_batch')
    op.rename_table('ingested_batch_old', 'ingested_batch')
