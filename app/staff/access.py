"""Who may see what: staff pages need a login; trainers see their own sessions only.

Views use the decorators; services that list sessions take `visible_workshops(user)`.
"""

from functools import wraps

import sqlalchemy as sa
from flask import abort
from flask_login import current_user, login_required

from app.catalog.models import Workshop
from app.staff.models import StaffUser


def staff_required(view):
    """Any logged-in staff member; anonymous visitors go to /connexion."""
    return login_required(view)


def coordinator_required(view):
    @login_required
    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_coordinator:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def can_see_workshop(user: StaffUser, workshop: Workshop) -> bool:
    return user.is_coordinator or (
        user.trainer_id is not None and workshop.trainer_id == user.trainer_id
    )


def visible_workshops(user: StaffUser) -> sa.Select:
    """The workshops this account may see, as a query to refine."""
    query = sa.select(Workshop)
    if not user.is_coordinator:
        query = query.where(Workshop.trainer_id == (user.trainer_id or -1))
    return query


def workshop_or_403(workshop: Workshop | None) -> Workshop:
    """The workshop if the current account may see it: 404 when it does not exist, 403 else."""
    if workshop is None:
        abort(404)
    if not can_see_workshop(current_user, workshop):
        abort(403)
    return workshop
