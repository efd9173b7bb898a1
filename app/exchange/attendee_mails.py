"""The mails to the half-day's attendees — each with a fresh management link — and when the
videoconference link goes out (the day before, so that it is at hand without being lost among
weeks of mail)."""

from datetime import datetime

from flask import current_app

from app import tokens
from app.clock import now
from app.exchange import calendar
from app.exchange.models import Attendee, HalfDay
from app.mail import services as mail
from app.sweeps import local_moment
from app.tokens import TokenPurpose

#: The videoconference link goes out from this hour, Paris time, the day before the half-day.
LINK_LOCAL_HOUR = 12


def link_due_at(half_day: HalfDay) -> datetime:
    """When the videoconference link goes out: LINK_LOCAL_HOUR, Paris time, the day before."""
    return local_moment(half_day.starts_at, days_before=1, hour=LINK_LOCAL_HOUR)


def link_is_due(half_day: HalfDay) -> bool:
    """Whether remote attendees get the link now (and a remote registration gets it at once)."""
    return (
        bool(half_day.videoconference_url) and link_due_at(half_day) <= now() < half_day.starts_at
    )


SUBJECTS = {
    "confirmed": "Inscription confirmée : {title}",
    "changed": "Inscription modifiée : {title}",
    "waiting": "Liste d'attente : {title}",
    "promoted": "Une place s'est libérée : {title}",
    "cancelled": "Inscription annulée : {title}",
    "manage_link": "Votre lien pour gérer votre inscription : {title}",
    "videoconference": "Demain : le lien de la visioconférence – {title}",
    "rescheduled": "Les Rencontres changent de date, d'horaire ou de lieu : {title}",
}


def queue_mail(
    attendee: Attendee, template: str, *, with_link: bool = True, changed: bool = False, **context
) -> None:
    """Queue `mail/exchange/attendee_<template>` to the attendee, with a fresh management link
    (earlier ones stay valid) unless `with_link` is False."""
    half_day = attendee.half_day
    base_url = current_app.config["PUBLIC_BASE_URL"]
    context["manage_url"] = None
    if with_link:
        secret = tokens.mint(TokenPurpose.exchange_attendee, attendee.id)
        context["manage_url"] = f"{base_url}{manage_path(half_day, secret)}"
    subject = SUBJECTS["changed" if changed else template].format(title=half_day.title)
    mail.queue(
        f"exchange/attendee_{template}",
        attendee.email,
        subject,
        about=attendee,
        attendee=attendee,
        half_day=half_day,
        changed=changed,
        programme_url=f"{base_url}{calendar.agenda_path(half_day)}",
        link_due_at=link_due_at(half_day),
        **context,
    )


def manage_path(half_day: HalfDay, secret: str) -> str:
    return f"{calendar.agenda_path(half_day)}/inscription/{secret}"
