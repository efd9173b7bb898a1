"""The coordinators' view of the outbox: every mail with its state, attempts and the server's last
answer; a failed mail offered again; a mail read as it is sent (in development, where the mails
`make run` writes are read)."""

from dataclasses import dataclass
from email import message_from_bytes, policy

import sqlalchemy as sa

from app.booking.models import Registration, RegistrationStatus
from app.clock import now
from app.database import begin_write
from app.errors import Refused
from app.extensions import db
from app.mail.message import UnsendableMail, build_message
from app.mail.models import MailStatus, OutboxAttachment, OutboxMail
from app.mail.relay import RelayTrouble, relay_trouble
from app.secret_paths import redact
from app.staff import audit
from app.staff.models import StaffUser

PAGE_SIZE = 100


@dataclass(frozen=True)
class Page:
    mails: list[OutboxMail]
    counts: dict[MailStatus, int]
    #: The id to ask for the next (older) page, or None.
    older_than: int | None
    #: Mails waiting because the relay refused them (not their recipients), or None.
    relay: RelayTrouble | None = None


def listing(
    status: MailStatus | None = None, before_id: int | None = None, query: str = ""
) -> Page:
    select = sa.select(OutboxMail).order_by(OutboxMail.id.desc()).limit(PAGE_SIZE + 1)
    if status is not None:
        select = select.where(OutboxMail.status == status)
    if before_id:
        select = select.where(OutboxMail.id < before_id)
    if query:
        select = select.where(OutboxMail.recipient.contains(query.strip().lower(), autoescape=True))
    mails = list(db.session.scalars(select))
    counts = dict(
        db.session.execute(
            sa.select(OutboxMail.status, sa.func.count()).group_by(OutboxMail.status)
        ).all()
    )
    older = mails[PAGE_SIZE - 1].id if len(mails) > PAGE_SIZE else None
    return Page(
        mails[:PAGE_SIZE], {s: counts.get(s, 0) for s in MailStatus}, older, relay_trouble()
    )


@dataclass(frozen=True)
class Reading:
    mail: OutboxMail
    #: The headers as sent (Date is the moment of reading), or None when the body was purged.
    headers: list[tuple[str, str]] | None
    text: str | None
    html: str | None
    attachments: list[tuple[str, str, int]]
    raw: bytes | None
    problem: str | None = None


def read(mail: OutboxMail) -> Reading:
    """The mail as the recipient gets it, parsed back from the bytes delivery builds — with its
    personal links masked (`masked`)."""
    if mail.purged_at is not None or mail.body_text is None:
        return Reading(
            mail,
            None,
            None,
            None,
            [],
            None,
            problem="Le contenu de ce courriel a été effacé 30 jours après l'envoi (il "
            "contenait des liens personnels) ; seule sa trace reste.",
        )
    try:
        raw = build_message(masked(mail)).data
    except UnsendableMail as error:
        return Reading(mail, None, mail.body_text, None, [], None, problem=str(error))
    message = message_from_bytes(raw, policy=policy.default)
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    attachments = [
        (part.get_filename() or "(sans nom)", part.get_content_type(), len(part.get_content()))
        for part in message.iter_attachments()
    ]
    return Reading(
        mail,
        headers=[(name, str(value)) for name, value in message.items()],
        text=text.get_content() if text else None,
        html=html.get_content() if html else None,
        attachments=attachments,
        raw=raw,
    )


def masked(mail: OutboxMail) -> OutboxMail:
    """A copy of `mail`, outside the session, whose personal links (management, calendar feed,
    password, questionnaire… `app.secret_paths`) read ".../inscription/***": they are the
    recipient's alone, not the reader's of the outbox. The invitation is unfolded first (a
    folded line could split a link). Attachments (PDFs) are carried as they are."""
    copy = OutboxMail(
        id=mail.id,
        created_at=mail.created_at,
        template=mail.template,
        recipient=mail.recipient,
        subject=mail.subject,
        body_text=redact(mail.body_text or ""),
        body_html=redact(mail.body_html) if mail.body_html is not None else None,
        calendar_method=mail.calendar_method,
        calendar_ics=(
            redact(mail.calendar_ics.replace("\r\n ", "").replace("\n ", ""))
            if mail.calendar_ics is not None
            else None
        ),
    )
    copy.attachments = [
        OutboxAttachment(filename=a.filename, content_type=a.content_type, data=a.data)
        for a in mail.attachments
    ]
    return copy


class RetryRefused(Refused):
    """A mail that cannot be offered again; `str()` says why."""


def retry(actor: StaffUser, mail_id: int) -> OutboxMail:
    """Offer a failed mail again (the server was fixed, the mailbox was full…): it goes with the
    next delivery run. A mail about a registration cancelled since (an address the server refuses
    frees its seat) is not sent again: it would tell of a seat the person no longer has."""
    begin_write()
    mail = db.session.get(OutboxMail, mail_id)
    if mail is None or mail.status is not MailStatus.failed:
        db.session.rollback()
        raise RetryRefused("Ce courriel n'est pas en échec : rien à renvoyer.")
    if mail.purged_at is not None or mail.body_text is None:
        db.session.rollback()
        raise RetryRefused("Le contenu de ce courriel a été effacé : il ne peut plus être renvoyé.")
    if mail.subject_kind == "registration" and mail.template != "booking/cancelled":
        registration = db.session.get(Registration, mail.subject_id)
        if registration is None or registration.status is RegistrationStatus.cancelled:
            db.session.rollback()
            raise RetryRefused(
                "L'inscription dont parle ce courriel a été annulée depuis (adresse refusée par "
                "le serveur : la place a été rendue). Inscrivez de nouveau la personne avec la "
                "bonne adresse depuis la page des inscriptions de l'atelier."
            )
    previous = mail.last_error
    mail.status = MailStatus.pending
    mail.attempts = 0
    mail.next_attempt_at = now()
    audit.record(
        actor,
        "mail.retry",
        "mail",
        mail.id,
        f"Nouvel essai du courriel « {mail.subject} » à {mail.recipient}",
        previous_error=previous,
    )
    db.session.commit()
    return mail
