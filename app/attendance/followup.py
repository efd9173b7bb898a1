"""After the session: each person present gets their attendance certificate and the questionnaire
link; the answers are recorded once per registration and summed up for the staff.

The follow-up sweep takes the sessions their trainer closed (attendance is frozen), whose
scheduled end has passed, and not yet followed up: a certificate states what happened, so a
session closed before its end sends nothing until the end (`certificates_leave` tells the
trainer when). For each person marked present who has no certificate yet, one write transaction
creates the certificate, mints the questionnaire link and queues the mail carrying the PDF: the
certificate's unique registration_id makes a second run, or a second scheduler, do nothing twice.
The session is marked followed up once everyone present holds a certificate.

A session its trainer has not closed UNCLOSED_AFTER its end has no reliable attendance: nothing
is sent, and it is logged (once per scheduler process) so that someone asks the trainer to
close it. A session closed late is followed up when it is closed.
"""

import logging
from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa
from babel.numbers import format_decimal
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from app import tokens
from app.attendance import certificates
from app.attendance.models import (
    Attendance,
    Certificate,
    LevelFit,
    Presence,
    QuestionnaireAnswer,
    SessionClosure,
    WillUse,
)
from app.booking.models import Registration, RegistrationStatus
from app.catalog.models import Room, Workshop, WorkshopStatus
from app.clock import now
from app.database import begin_write
from app.errors import NotFound
from app.extensions import db
from app.formatting import LOCALE, datetime_fr, time_fr, to_paris
from app.mail import services as mail
from app.tokens import TokenPurpose

log = logging.getLogger(__name__)

#: A session still not closed this long after its end is reported: its attendance is unreliable.
UNCLOSED_AFTER = timedelta(hours=24)
#: Unclosed sessions are looked for this far back (older ones were reported already).
UNCLOSED_LOOKBACK = timedelta(days=14)
#: A comment longer than this is refused (the form says so).
COMMENT_MAX_LENGTH = 2000


@dataclass
class FollowUpReport:
    sent: int = 0
    sessions: int = 0
    unclosed: int = 0

    def __str__(self) -> str:
        return (
            f"{self.sent} certificates sent, {self.sessions} sessions followed up, "
            f"{self.unclosed} sessions left unclosed"
        )

    def __bool__(self) -> bool:
        return bool(self.sent or self.sessions or self.unclosed)


def send_follow_ups() -> FollowUpReport:
    """Send the certificates and questionnaire links of the sessions closed since the last run."""
    report = FollowUpReport()
    for workshop_id in _closed_not_followed_up():
        _follow_up(workshop_id, report)
    _report_unclosed(report)
    return report


def _closed_not_followed_up() -> list[int]:
    """Closed sessions not followed up yet, once over: the hours they attest have happened."""
    ids = db.session.scalars(
        sa.select(SessionClosure.workshop_id)
        .join(Workshop, Workshop.id == SessionClosure.workshop_id)
        .where(SessionClosure.followed_up_at.is_(None), Workshop.ends_at <= now())
        .order_by(SessionClosure.closed_at, SessionClosure.workshop_id)
    ).all()
    db.session.commit()  # end the read: each person takes their own write transaction
    return list(ids)


def certificates_leave(workshop: Workshop) -> str:
    """When the certificates of this session leave, as the trainer reads it: "à 16 h, à la fin
    de la séance", or "dans les minutes qui viennent" once the session is over (the sweep runs
    every few minutes)."""
    moment = now()
    if workshop.ends_at <= moment:
        return "dans les minutes qui viennent"
    if to_paris(workshop.ends_at).date() == to_paris(moment).date():
        return f"à {time_fr(workshop.ends_at)}, à la fin de la séance"
    return f"le {datetime_fr(workshop.ends_at)}, à la fin de la séance"


def _present_without_certificate(workshop_id: int) -> sa.Select:
    return (
        sa.select(Registration.id)
        .join(Attendance, Attendance.registration_id == Registration.id)
        .where(
            Attendance.workshop_id == workshop_id,
            Attendance.presence == Presence.present,
            Registration.status != RegistrationStatus.cancelled,
            ~sa.exists().where(Certificate.registration_id == Registration.id),
        )
        .order_by(Registration.last_name, Registration.first_name, Registration.id)
    )


def _follow_up(workshop_id: int, report: FollowUpReport) -> None:
    cancelled = db.session.get(Workshop, workshop_id).status is WorkshopStatus.cancelled
    people = db.session.scalars(_present_without_certificate(workshop_id)).all()
    db.session.commit()
    if cancelled:
        log.warning(
            "session %s is closed but its workshop was cancelled: no certificate", workshop_id
        )
    else:
        for registration_id in people:
            _certify(registration_id, report)
    _mark_followed_up(workshop_id, report, certify=not cancelled)


def _certify(registration_id: int, report: FollowUpReport) -> None:
    """One person's certificate, questionnaire link and mail, in one transaction."""
    registration = db.session.scalar(
        sa.select(Registration)
        .where(Registration.id == registration_id)
        .options(
            joinedload(Registration.workshop).joinedload(Workshop.room).joinedload(Room.site),
            joinedload(Registration.workshop).joinedload(Workshop.trainer),
        )
    )
    code, issued_at = certificates.new_code(), now()
    minutes = certificates.session_minutes(registration.workshop)
    # Rendered before the write transaction: the database is not held while WeasyPrint works.
    pdf = certificates.render_certificate(
        registration, code=code, minutes=minutes, issued_at=issued_at
    )
    begin_write()
    if certificates.certificate_of(registration_id) is not None:
        db.session.rollback()  # issued by another run meanwhile
        return
    certificate = Certificate(
        registration_id=registration_id, code=code, minutes=minutes, issued_at=issued_at
    )
    db.session.add(certificate)
    if registration.email:
        _queue_certificate_mail(registration, certificate, pdf)
    else:
        log.warning(
            "registration %s has no e-mail address: certificate %s not mailed",
            registration_id,
            code,
        )
    try:
        db.session.commit()
    except IntegrityError:
        # Another scheduler issued it first (unique registration_id); or, once in 2^59, the code
        # was taken: the next run tries again, as the session is not marked followed up.
        db.session.rollback()
        log.info("certificate of registration %s not issued by this run", registration_id)
        return
    report.sent += 1


def _queue_certificate_mail(
    registration: Registration, certificate: Certificate, pdf: bytes
) -> None:
    base_url = current_app.config["PUBLIC_BASE_URL"]
    workshop = registration.workshop
    questionnaire = tokens.mint(TokenPurpose.questionnaire, registration.id)
    manage = tokens.mint(TokenPurpose.manage_registration, registration.id)
    mail.queue(
        "attendance/certificate",
        registration.email,
        f"Attestation de présence : {workshop.title}",
        about=registration,
        attachments=[(certificates.pdf_filename(workshop), "application/pdf", pdf)],
        registration=registration,
        workshop=workshop,
        duration=certificates.duration_fr(certificate.minutes),
        code=certificate.code,
        verification_url=certificates.verification_url(certificate.code),
        questionnaire_url=f"{base_url}/questionnaire/{questionnaire}",
        manage_url=f"{base_url}/inscription/{manage}",
    )


def _mark_followed_up(workshop_id: int, report: FollowUpReport, *, certify: bool) -> None:
    """Mark the session followed up, unless someone present still lacks a certificate."""
    begin_write()
    closure = db.session.get(SessionClosure, workshop_id, populate_existing=True)
    missing = certify and db.session.scalar(_present_without_certificate(workshop_id).limit(1))
    if closure is None or closure.followed_up_at is not None or missing:
        db.session.rollback()
        return
    closure.followed_up_at = now()
    db.session.commit()
    report.sessions += 1


def _report_unclosed(report: FollowUpReport) -> None:
    """Log, once per process, the sessions ended UNCLOSED_AFTER ago that nobody closed."""
    moment = now()
    unclosed = db.session.scalars(
        sa.select(Workshop)
        .where(
            Workshop.status == WorkshopStatus.published,
            Workshop.ends_at <= moment - UNCLOSED_AFTER,
            Workshop.ends_at > moment - UNCLOSED_AFTER - UNCLOSED_LOOKBACK,
            ~sa.exists().where(SessionClosure.workshop_id == Workshop.id),
            # A session nobody was expected at is no one's loss.
            sa.exists().where(
                Registration.workshop_id == Workshop.id,
                Registration.status.in_((RegistrationStatus.confirmed, RegistrationStatus.walk_in)),
            ),
        )
        .order_by(Workshop.ends_at)
    ).all()
    db.session.commit()
    reported = current_app.extensions.setdefault("attendance_unclosed_reported", set())
    for workshop in unclosed:
        if workshop.id in reported:
            continue
        reported.add(workshop.id)
        report.unclosed += 1
        log.warning(
            "session %s (%r, ended %s) is still not closed by its trainer: no certificate or "
            "questionnaire is sent until it is",
            workshop.id,
            workshop.title,
            workshop.ends_at.isoformat(),
        )


# --- the questionnaire ---------------------------------------------------------------------------


class QuestionnaireNotFound(NotFound):
    """A questionnaire link that opens nothing: malformed, unknown or revoked."""


class AlreadyAnswered(Exception):
    """This registration has answered already: the first answer stands."""


@dataclass
class Answer:
    usefulness: int
    level_fit: LevelFit
    will_use: WillUse
    comment: str = ""

    def __post_init__(self):
        # The form checks all this with French messages; here it guards the other callers.
        if not 1 <= self.usefulness <= 5 or len(self.comment) > COMMENT_MAX_LENGTH:
            raise ValueError("usefulness out of 1–5, or comment too long")


def questionnaire_registration(secret: str) -> Registration:
    token = tokens.resolve(TokenPurpose.questionnaire, secret)
    registration = token and db.session.scalar(
        sa.select(Registration)
        .where(Registration.id == token.owner_id)
        .options(joinedload(Registration.workshop))
    )
    if registration is None:
        raise QuestionnaireNotFound()
    return registration


def has_answered(registration_id: int) -> bool:
    return db.session.scalar(
        sa.select(sa.exists().where(QuestionnaireAnswer.registration_id == registration_id))
    )


def record_answer(secret: str, answer: Answer) -> QuestionnaireAnswer:
    """Record the answer of the registration this link opens; a second one raises AlreadyAnswered."""
    registration = questionnaire_registration(secret)
    registration_id, workshop_id = registration.id, registration.workshop_id
    begin_write()
    if has_answered(registration_id):
        db.session.rollback()
        raise AlreadyAnswered()
    row = QuestionnaireAnswer(
        registration_id=registration_id,
        workshop_id=workshop_id,
        usefulness=answer.usefulness,
        level_fit=answer.level_fit,
        will_use=answer.will_use,
        comment=answer.comment,
    )
    db.session.add(row)
    try:
        db.session.commit()
    except IntegrityError:  # the same link answered twice at the same moment: the first stands
        db.session.rollback()
        raise AlreadyAnswered() from None
    return row


@dataclass
class AnswersSummary:
    """A session's answers for its trainer and the coordinators: counts, average, comments."""

    workshop: Workshop
    #: People sent the questionnaire (those holding a certificate).
    invited: int
    answers: list[QuestionnaireAnswer]
    level_fit: dict[LevelFit, int] = field(default_factory=dict)
    will_use: dict[WillUse, int] = field(default_factory=dict)
    usefulness: dict[int, int] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return len(self.answers)

    @property
    def usefulness_average(self) -> str | None:
        """'4,3' (French decimal comma), or None without answers."""
        if not self.answers:
            return None
        average = sum(a.usefulness for a in self.answers) / len(self.answers)
        return format_decimal(average, format="0.0", locale=LOCALE)

    @property
    def comments(self) -> list[str]:
        return [a.comment for a in self.answers if a.comment.strip()]


def answers_summary(workshop: Workshop) -> AnswersSummary:
    answers = db.session.scalars(
        sa.select(QuestionnaireAnswer)
        .where(QuestionnaireAnswer.workshop_id == workshop.id)
        .order_by(QuestionnaireAnswer.answered_at, QuestionnaireAnswer.id)
    ).all()
    invited = db.session.scalar(
        sa.select(sa.func.count(Certificate.id))
        .join(Registration, Registration.id == Certificate.registration_id)
        .where(Registration.workshop_id == workshop.id)
    )
    summary = AnswersSummary(
        workshop=workshop,
        invited=invited,
        answers=list(answers),
        level_fit=dict.fromkeys(LevelFit, 0),
        will_use=dict.fromkeys(WillUse, 0),
        usefulness=dict.fromkeys(range(1, 6), 0),
    )
    for answer in answers:
        summary.level_fit[answer.level_fit] += 1
        summary.will_use[answer.will_use] += 1
        summary.usefulness[answer.usefulness] += 1
    return summary
