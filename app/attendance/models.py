"""Attendance marks, closed sessions, attendance certificates and questionnaire answers."""

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.booking.models import Registration
from app.clock import now
from app.database import UTCDateTime
from app.enums import TitledEnum, enum_column
from app.extensions import db


class Presence(TitledEnum):
    present = ("present", "Présent·e")
    absent = ("absent", "Absent·e")


#: What a tap sends to undo a mark: the person is "non pointé·e" again (stored as no presence).
UNMARKED = "unmarked"


class Attendance(db.Model):
    """One person's mark at one session: the last tap wins, by the order the taps were made.

    A mark undone ("non pointé·e" again) keeps its row with no presence: the undo is a tap like
    the others, so an older tap arriving after it changes nothing.
    """

    __tablename__ = "attendances"

    registration_id: Mapped[int] = mapped_column(
        sa.ForeignKey("registrations.id"), primary_key=True
    )
    workshop_id: Mapped[int] = mapped_column(sa.ForeignKey("workshops.id"), index=True)
    #: None: undone, the person is unmarked again.
    presence: Mapped[Presence | None] = enum_column(Presence, nullable=True)
    #: When the tap was made on the trainer's device (milliseconds, from the page): a retried or
    #: late-arriving older tap never overrides a newer one.
    tapped_at_ms: Mapped[int] = mapped_column(sa.BigInteger)
    marked_at = mapped_column(UTCDateTime, nullable=False, default=now, onupdate=now)
    marked_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_users.id"))

    registration: Mapped[Registration] = relationship()

    def __repr__(self) -> str:
        presence = self.presence.value if self.presence else "unmarked"
        return f"<Attendance {self.registration_id} {presence}>"


class SessionClosure(db.Model):
    """A session the trainer closed: attendance is frozen, the follow-up mails may go."""

    __tablename__ = "session_closures"

    workshop_id: Mapped[int] = mapped_column(sa.ForeignKey("workshops.id"), primary_key=True)
    closed_at = mapped_column(UTCDateTime, nullable=False, default=now)
    closed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_users.id"))
    #: When the follow-up sweep sent the certificates and questionnaire links of this session.
    followed_up_at = mapped_column(UTCDateTime, nullable=True)

    def __repr__(self) -> str:
        return f"<SessionClosure {self.workshop_id}>"


class Certificate(db.Model):
    """An attendance certificate; its code, printed on the PDF, is checked at /attestations/<code>."""

    __tablename__ = "certificates"

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(sa.ForeignKey("registrations.id"), unique=True)
    #: Random, unambiguous characters in groups: "K7QD-M2XP-9HTA".
    code: Mapped[str] = mapped_column(sa.String(20), unique=True)
    #: Training time attested, in minutes (the workshop's duration when issued).
    minutes: Mapped[int]
    issued_at = mapped_column(UTCDateTime, nullable=False, default=now)

    registration: Mapped[Registration] = relationship()

    def __repr__(self) -> str:
        return f"<Certificate {self.code}>"


class LevelFit(TitledEnum):
    too_easy = ("too_easy", "Trop facile")
    right = ("right", "Adapté")
    too_hard = ("too_hard", "Trop difficile")


class WillUse(TitledEnum):
    yes = ("yes", "Oui")
    maybe = ("maybe", "Peut-être")
    no = ("no", "Non")


class QuestionnaireAnswer(db.Model):
    """The post-workshop questionnaire, answered once per registration."""

    __tablename__ = "questionnaire_answers"
    __table_args__ = (sa.CheckConstraint("usefulness BETWEEN 1 AND 5", name="usefulness_range"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(sa.ForeignKey("registrations.id"), unique=True)
    workshop_id: Mapped[int] = mapped_column(sa.ForeignKey("workshops.id"), index=True)
    #: 1 (pas utile) to 5 (très utile).
    usefulness: Mapped[int]
    level_fit: Mapped[LevelFit] = enum_column(LevelFit)
    will_use: Mapped[WillUse] = enum_column(WillUse)
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    answered_at = mapped_column(UTCDateTime, nullable=False, default=now)

    def __repr__(self) -> str:
        return f"<QuestionnaireAnswer {self.registration_id}>"
