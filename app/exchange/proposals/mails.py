"""The mails to a proposal's presenter, written to the outbox in the change's transaction."""

from flask import current_app

from app.exchange.models import Contribution, HalfDay
from app.exchange.services import call_is_open
from app.formatting import date_fr, datetime_fr
from app.mail import services as mail


def management_url(half_day: HalfDay, secret: str) -> str:
    base_url = current_app.config["PUBLIC_BASE_URL"]
    return f"{base_url}/rencontres/{half_day.school_year}/propositions/{secret}"


def queue(contribution: Contribution, template: str, subject: str, secret: str | None) -> None:
    half_day = contribution.half_day
    base_url = current_app.config["PUBLIC_BASE_URL"]
    mail.queue(
        f"exchange/{template}",
        contribution.email,
        subject.format(title=contribution.title),
        about=contribution,
        contribution=contribution,
        half_day=half_day,
        day=date_fr(half_day.starts_at),
        manage_url=management_url(half_day, secret) if secret else None,
        call_url=f"{base_url}/rencontres/{half_day.school_year}/proposer",
        half_day_url=f"{base_url}/rencontres/{half_day.school_year}",
        deadline=datetime_fr(half_day.deadline),
        editable=call_is_open(half_day),
    )
