"""staff login sessions recorded on the server, as tokens of purpose `staff-session`

A login mints a token whose secret the session cookie carries; logging out revokes it, a password
change revokes all of the account's, and a deactivated account's are refused. The purpose enum is
a VARCHAR with a named CHECK constraint, which autogenerate does not compare: written by hand.
Sessions opened before this revision (their cookie holds "<id>:<seconds>") simply end.

Revision ID: 3b6e2d9c41a7
Revises: f9c9b73e0854
Create Date: 2026-12-04 17:50:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '3b6e2d9c41a7'
down_revision = 'f9c9b73e0854'
branch_labels = None
depends_on = None

PURPOSES_BEFORE = (
    'manage', 'feed', 'trainer-feed', 'password-reset', 'questionnaire', 'exchange-proposal',
    'exchange-attendee',
)
PURPOSES_AFTER = (*PURPOSES_BEFORE, 'staff-session')


def _check(values):
    listed = ", ".join(f"'{v}'" for v in values)
    with op.batch_alter_table('tokens', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_tokens_tokenpurpose'), type_='check')
        batch_op.create_check_constraint(op.f('ck_tokens_tokenpurpose'), f"purpose IN ({listed})")


def upgrade():
    _check(PURPOSES_AFTER)


def downgrade():
    op.execute("DELETE FROM tokens WHERE purpose = 'staff-session'")
    _check(PURPOSES_BEFORE)
