"""Every model, imported in one place so that Alembic and the mappers see all tables."""

from app.attendance.models import (  # noqa: F401
    Attendance,
    Certificate,
    QuestionnaireAnswer,
    SessionClosure,
)
from app.booking.models import Notice, Registration  # noqa: F401
from app.calendars.models import FeedState  # noqa: F401
from app.catalog.models import Room, Site, Topic, Trainer, Workshop  # noqa: F401
from app.exchange.models import (  # noqa: F401
    AgendaSlot,
    AgendaVersion,
    Attendee,
    Contribution,
    HalfDay,
    HalfDayRoom,
)
from app.heartbeat import Heartbeat  # noqa: F401
from app.mail.models import MailSender, OutboxAttachment, OutboxMail  # noqa: F401
from app.staff.models import (
    AuditEntry,  # noqa: F401
    StaffUser,  # noqa: F401
)
from app.tokens import Token  # noqa: F401
