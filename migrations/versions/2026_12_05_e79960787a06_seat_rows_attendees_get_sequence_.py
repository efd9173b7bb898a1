"""seat rows: attendees get sequence, confirmed_at and the e-mail index

Revision ID: e79960787a06
Revises: 09b979dbbd50
Create Date: 2026-12-05 07:24:45.841844

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e79960787a06'
down_revision = '09b979dbbd50'
branch_labels = None
depends_on = None


def upgrade():
    # The half-day's attendees become seat rows like a workshop's registrations (app.seats):
    # a calendar SEQUENCE (0 for the rows there are), when the seat was given (the registration
    # time for those confirmed today: the best known), and the address's index.
    with op.batch_alter_table('exchange_attendees', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sequence', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_exchange_attendees_email'), ['email'], unique=False)
    with op.batch_alter_table('exchange_attendees', schema=None) as batch_op:
        batch_op.alter_column('sequence', server_default=None)
    op.execute("UPDATE exchange_attendees SET confirmed_at = created_at WHERE status = 'confirmed'")


def downgrade():
    with op.batch_alter_table('exchange_attendees', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_exchange_attendees_email'))
        batch_op.drop_column('confirmed_at')
        batch_op.drop_column('sequence')
