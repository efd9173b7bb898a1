"""attendance marks can be undone: presence nullable

Revision ID: cddd55055699
Revises: e79960787a06
Create Date: 2026-12-05 12:22:49.890561

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'cddd55055699'
down_revision = 'e79960787a06'
branch_labels = None
depends_on = None


def upgrade():
    # A mark undone on the check-in page keeps its row (and its tap time) with no presence.
    with op.batch_alter_table('attendances', schema=None) as batch_op:
        batch_op.alter_column('presence',
               existing_type=sa.VARCHAR(length=20),
               nullable=True)


def downgrade():
    # Undone marks are no marks: the row goes, as before the undo existed.
    op.execute("DELETE FROM attendances WHERE presence IS NULL")
    with op.batch_alter_table('attendances', schema=None) as batch_op:
        batch_op.alter_column('presence',
               existing_type=sa.VARCHAR(length=20),
               nullable=False)
