"""knowledge articles: articles with their versions and search index, customers'
self-help attempts

Revision ID: b4c8e2a6d0f1
Revises: b4e8d2f6a1c3
Create Date: 2026-12-07 22:10:00

SQLite gets an FTS5 table (`article_fts`, rowid = article id, kept by
`knowledge.search.index`); PostgreSQL a GIN index over the article's text (the
expression `knowledge.search.PG_DOCUMENT`, repeated here as migrations do not import
code that may change later).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = 'b4c8e2a6d0f1'
down_revision: str | None = "b4e8d2f6a1c3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PG_DOCUMENT = ("to_tsvector('english', coalesce(title, '') || ' ' || coalesce(summary, '') "
               "|| ' ' || coalesce(models, '') || ' ' || coalesce(rule_ids, '') || ' ' "
               "|| coalesce(fault_codes, '') || ' ' || coalesce(body, ''))")


def _text(name: str) -> sa.Column:
    return sa.Column(name, sqlmodel.sql.sqltypes.AutoString(), nullable=False)


def upgrade() -> None:
    op.create_table(
        'article',
        sa.Column('id', sa.Integer(), nullable=False),
        _text('slug'), _text('title'), _text('summary'),
        sa.Column('body', sa.Text(), nullable=False),
        _text('models'), _text('rule_ids'), _text('fault_codes'), _text('audience'),
        sa.Column('causes', sa.Text(), nullable=False),
        sa.Column('published', sa.Boolean(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('updated_at', sa.BigInteger(), nullable=False),
        _text('updated_by'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('article', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_article_slug'), ['slug'], unique=True)
    op.create_table(
        'article_version',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('article_id', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        _text('title'), _text('summary'),
        sa.Column('body', sa.Text(), nullable=False),
        _text('models'), _text('rule_ids'), _text('fault_codes'), _text('audience'),
        sa.Column('causes', sa.Text(), nullable=False),
        sa.Column('published', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.BigInteger(), nullable=False),
        _text('created_by'),
        sa.ForeignKeyConstraint(['article_id'], ['article.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('article_id', 'version', name='ux_article_version'),
    )
    with op.batch_alter_table('article_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_article_version_article_id'), ['article_id'],
                              unique=False)
    op.create_table(
        'self_help_attempt',
        sa.Column('id', sa.Integer(), nullable=False),
        _text('device_id'),
        sa.Column('article_id', sa.Integer(), nullable=False),
        sa.Column('article_version', sa.Integer(), nullable=False),
        _text('article_title'),
        sa.Column('steps', sa.Text(), nullable=False),
        _text('outcome'),
        sa.Column('case_id', sa.Integer(), nullable=True),
        sa.Column('at', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['article_id'], ['article.id'], ),
        sa.ForeignKeyConstraint(['case_id'], ['case.id'], ),
        sa.ForeignKeyConstraint(['device_id'], ['device.id'], ),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('self_help_attempt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_self_help_attempt_device_id'), ['device_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_self_help_attempt_case_id'), ['case_id'],
                              unique=False)
    if op.get_bind().dialect.name == 'sqlite':
        # Porter stemming: "leaking" finds "leak"; unicode61 folds case and accents.
        op.execute("CREATE VIRTUAL TABLE article_fts USING fts5(title, summary, tags, body, "
                   "tokenize = 'porter unicode61')")
    else:
        op.execute(f"CREATE INDEX ix_article_search ON article USING gin ({PG_DOCUMENT})")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        op.execute("DROP TABLE article_fts")
    else:
        op.execute("DROP INDEX ix_article_search")
    with op.batch_alter_table('self_help_attempt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_self_help_attempt_case_id'))
        batch_op.drop_index(batch_op.f('ix_self_help_attempt_device_id'))
    op.drop_table('self_help_attempt')
    with op.batch_alter_table('article_version', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_article_version_article_id'))
    op.drop_table('article_version')
    with op.batch_alter_table('article', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_article_slug'))
    op.drop_table('article')
