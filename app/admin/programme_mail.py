"""The programme mailed to the schools' lists: the preview a coordinator reads first, and the
sending, one mail per list through the outbox, logged in the audit in the same transaction and
refused when the same programme was just sent (a double click, a reloaded page)."""

import json
import re
import zlib
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask import current_app

from app.admin.programme_content import Programme, programme, refuse_empty
from app.admin.programme_request import ProgrammeRefused, check_intro, check_subject, paragraphs
from app.booking.models import Source
from app.catalog.models import Site
from app.clock import now
from app.database import begin_write
from app.extensions import db
from app.formatting import Period, time_fr
from app.mail import services as mail
from app.mail.models import OutboxMail
from app.staff import audit
from app.staff.models import AuditEntry, StaffUser

MAIL_TEMPLATE = "admin/programme"
#: The same programme sent again this soon is a double click or a reloaded page: refused.
RESEND_GUARD = timedelta(minutes=10)
#: Serialises the sendings on PostgreSQL (a transaction-level advisory lock).
SEND_LOCK_KEY = zlib.crc32(b"ateliers-tice:programme-send")


def list_addresses() -> list[str]:
    """The mailing lists the programme goes to (PROGRAMME_LIST_ADDRESSES), each checked."""
    addresses = list(dict.fromkeys(current_app.config.get("PROGRAMME_LIST_ADDRESSES") or []))
    if not addresses:
        raise ProgrammeRefused(
            "Aucune liste de diffusion n'est configurée : l'administrateur du service doit "
            "renseigner la variable d'environnement PROGRAMME_LIST_ADDRESSES (adresses séparées "
            "par des virgules, par exemple « ecoles-amiens@ac-amiens.fr,ecoles-abbeville@ac-"
            "amiens.fr ») puis redémarrer le service."
        )
    for address in addresses:
        try:
            validate_email(address, check_deliverability=False, allow_smtputf8=False)
        except EmailNotValidError:
            raise ProgrammeRefused(
                f"L'adresse de liste « {address} » de PROGRAMME_LIST_ADDRESSES n'est pas valide : "
                "l'administrateur du service doit la corriger."
            ) from None
    return addresses


@dataclass(frozen=True)
class Preview:
    programme: Programme
    subject: str
    text: str
    html: str


#: How a coordinator's own greeting begins: then the mail adds no "Bonjour," of its own.
GREETINGS = re.compile(
    r"(bonjour|bonsoir|salut|hello|cher|chère|chers|chères|madame|monsieur|mesdames|messieurs)\b",
    re.IGNORECASE,
)
#: A coordinator's text that already announces the programme: the mail's own announcement
#: sentence is left out.
ANNOUNCES = re.compile(r"voici (le|notre) programme", re.IGNORECASE)


def _mail_context(listed: Programme, intro: str) -> dict:
    """What the templates need. The greeting and the sentence announcing the programme are added
    unless the coordinator's introduction already says them (the form tells which)."""
    return {
        "programme": listed,
        "intro_paragraphs": paragraphs(intro),
        "greet": not GREETINGS.match(intro.lstrip(" \n\t«\"'")),
        "announce": not ANNOUNCES.search(intro),
    }


def preview(period: Period, sites: list[Site], subject: str, intro: str) -> Preview:
    """The mail as the lists will receive it (refused like the sending when nothing to send)."""
    subject, intro = check_subject(subject), check_intro(intro)
    listed = programme(period, sites, Source.mailing_list)
    refuse_empty(listed)
    bodies = mail.compose(MAIL_TEMPLATE, subject, **_mail_context(listed, intro))
    return Preview(programme=listed, subject=subject, text=bodies.text, html=bodies.html)


def send_programme(
    actor: StaffUser | None, period: Period, sites: list[Site], subject: str, intro: str
) -> list[OutboxMail]:
    """Queue one mail per list address and log it, in one transaction; committed.

    Raises ProgrammeRefused (nothing written) when there is no list, nothing to send, or the
    subject or introduction is refused.
    """
    subject, intro = check_subject(subject), check_intro(intro)
    addresses = list_addresses()
    begin_write()
    try:
        _one_sending_at_a_time()
        listed = programme(period, sites, Source.mailing_list)
        refuse_empty(listed)
        _refuse_repeat(listed, subject)
        context = _mail_context(listed, intro)
        mails = [mail.queue(MAIL_TEMPLATE, address, subject, **context) for address in addresses]
        _log_sending(actor, listed, subject, addresses)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return mails


def _one_sending_at_a_time() -> None:
    """On PostgreSQL, wait for any other sending to commit (SQLite's write transaction, begun
    IMMEDIATE, already does): two clicks on "Envoyer" then see each other in the audit log."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": SEND_LOCK_KEY})


def _refuse_repeat(listed: Programme, subject: str) -> None:
    """The same programme sent again within RESEND_GUARD is a double click or a reloaded page:
    the lists would get it twice."""
    recent = db.session.scalars(
        sa.select(AuditEntry)
        .where(AuditEntry.action == "programme.send", AuditEntry.at >= now() - RESEND_GUARD)
        .order_by(AuditEntry.id.desc())
    )
    key = _sending_key(_details(listed, subject))
    for entry in recent:
        if _sending_key(json.loads(entry.details or "{}")) == key:
            raise ProgrammeRefused(
                f"Ce programme a déjà été mis dans la boîte d'envoi à {time_fr(entry.at)} par "
                f"{entry.actor_name} : il n'est pas envoyé une seconde fois. Pour le renvoyer, "
                f"attendez {RESEND_GUARD.seconds // 60} minutes ou changez l'objet."
            )


def _sending_key(details: dict) -> tuple:
    """What makes two sendings the same: period, sites and subject (see `_details`)."""
    return (details.get("period"), details.get("sites"), details.get("subject"))


def _details(listed: Programme, subject: str) -> dict:
    return {
        "period": [listed.period.first_day.isoformat(), listed.period.last_day.isoformat()],
        "sites": [part.site.slug for part in listed.sites],
        "subject": subject,
    }


def _log_sending(actor, listed: Programme, subject: str, addresses: list[str]) -> None:
    site_names = ", ".join(part.site.name for part in listed.sites)
    count = len(listed.lines)
    audit.record(
        actor,
        "programme.send",
        "programme",
        None,
        f"Programme {listed.period.short_label} ({site_names} ; {count} atelier{'s' if count > 1 else ''}) "
        f"envoyé à {len(addresses)} liste{'s' if len(addresses) > 1 else ''} : {', '.join(addresses)}",
        **_details(listed, subject),
        workshops=[line.workshop.id for line in listed.lines],
        recipients=addresses,
    )
