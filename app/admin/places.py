"""Sites, rooms, topics and trainers in the back office: saved with their checks, each change in
the audit log. Slugs are chosen once: they are in feed addresses and on posters, which must not
break (a subscribed calendar or a printed poster would lead nowhere)."""

import sqlalchemy as sa

from app.catalog.models import Room, Site, Topic, Trainer, Workshop, WorkshopStatus
from app.clock import now
from app.database import begin_write
from app.errors import Refused
from app.extensions import db
from app.formatting import datetime_fr
from app.staff import audit
from app.staff.models import StaffUser


class PlaceRefused(Refused):
    """A site, room, topic or trainer that cannot be saved as typed; nothing was written."""


KINDS = {
    Site: ("site", "du site"),
    Room: ("room", "de la salle"),
    Topic: ("topic", "du thème"),
    Trainer: ("trainer", "du formateur"),
}


def save(actor: StaffUser, row, values: dict):
    """Create (`row` is a model class) or update (`row` an instance) with `values`, checked."""
    model = row if isinstance(row, type) else type(row)
    begin_write()
    creating = isinstance(row, type)
    instance = model() if creating else row
    if not creating:
        db.session.refresh(instance)  # read again in the write transaction
    try:
        _check(model, instance, values, creating)
        changed = {
            name: (str(getattr(instance, name, None) or ""), str(value))
            for name, value in values.items()
            if creating or getattr(instance, name) != value
        }
        for name, value in values.items():
            setattr(instance, name, value)  # model validators (slugs) raise ValueError
    except (PlaceRefused, ValueError) as refusal:
        db.session.rollback()
        raise PlaceRefused(str(refusal)) from None
    if not changed:
        db.session.rollback()
        return instance
    if creating:
        db.session.add(instance)
    db.session.flush()
    kind, label = KINDS[model]
    verb = "Création" if creating else "Modification"
    audit.record(
        actor,
        f"{kind}.{'create' if creating else 'edit'}",
        kind,
        instance.id,
        f"{verb} {label} « {_name(instance)} »"
        + ("" if creating else f" : {audit.changed_fields(changed)}"),
        **changed,
    )
    db.session.commit()
    return instance


def _check(model, instance, values: dict, creating: bool) -> None:
    if model in (Site, Topic):
        if not creating and "slug" in values and values["slug"] != instance.slug:
            raise PlaceRefused(
                "L'identifiant ne change plus une fois créé : il figure dans les adresses "
                "des calendriers et sur les affiches."
            )
        if creating and db.session.scalar(
            sa.select(sa.exists().where(model.slug == values["slug"]))
        ):
            raise PlaceRefused(f"L'identifiant « {values['slug']} » est déjà pris.")
    if model is Trainer:
        email = values["email"]
        taken = sa.select(
            sa.exists().where(
                sa.func.lower(Trainer.email) == email, Trainer.id != (instance.id or 0)
            )
        )
        if db.session.scalar(taken):
            raise PlaceRefused(f"Un formateur a déjà l'adresse {email}.")
    if model is Room:
        site_id = values.get("site_id", instance.site_id)
        same = sa.select(
            sa.exists().where(
                Room.site_id == site_id, Room.name == values["name"], Room.id != (instance.id or 0)
            )
        )
        if db.session.scalar(same):
            raise PlaceRefused(f"Ce site a déjà une salle « {values['name']} ».")
        if not creating and values["capacity"] < instance.capacity:
            bigger = db.session.scalars(
                sa.select(Workshop)
                .where(
                    Workshop.room_id == instance.id,
                    Workshop.ends_at >= now(),
                    Workshop.status != WorkshopStatus.cancelled,
                    Workshop.capacity > values["capacity"],
                )
                .order_by(Workshop.starts_at)
                .limit(3)
            ).all()
            if bigger:
                listed = " ; ".join(
                    f"« {w.title} » le {datetime_fr(w.starts_at)} ({w.capacity} places)"
                    for w in bigger
                )
                raise PlaceRefused(
                    f"Des ateliers à venir dans cette salle offrent plus de {values['capacity']} places : "
                    f"{listed}. Réduisez d'abord leur capacité ou changez-les de salle."
                )


def _name(instance) -> str:
    return getattr(instance, "full_name", None) or instance.name
