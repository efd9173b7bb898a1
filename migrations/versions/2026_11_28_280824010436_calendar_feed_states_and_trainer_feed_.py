"""calendar feed states and trainer feed tokens

Feeds remember their current hash and when it was first seen (Last-Modified that never goes
backwards). Tokens gain the purpose `trainer-feed`: the enum is a VARCHAR with a named CHECK
constraint, which autogenerate does not compare, so that part is written by hand.

Revision ID: 280824010436
Revises: 7a843f3ea955
Create Date: 2026-11-28 13:55:30.990248

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '280824010436'
down_revision = '7a843f3ea955'
branch_labels = None
depends_on = None

PURPOSES_BEFORE = ('manage', 'feed')
PURPOSES_AFTER = ('manage', 'feed', 'trainer-feed')


def _purpose_check(purposes):
    listed = ", ".join(f"'{p}'" for p in purposes)
    with op.batch_alter_table('tokens', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_tokens_tokenpurpose'), type_='check')
        batch_op.create_check_constraint(op.f('ck_tokens_tokenpurpose'), f"purpose IN ({listed})")


def upgrade():
    op.create_table('feed_states',
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('etag', sa.String(length=64), nullable=False),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_feed_states'))
    )
    _purpose_check(PURPOSES_AFTER)


def downgrade():
    op.execute(sa.text("DELETE FROM tokens WHERE purpose = 'trainer-feed'"))
    _purpose_check(PURPOSES_BEFORE)
    op.drop_table('feed_states')
