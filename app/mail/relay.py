"""The relay's health: whose fault a refusal is, the breaker that stops a sweep when the relay
refuses everything, and what `/sante` and the coordinators' outbox view say about it.

A permanent refusal of the recipient (5xx to RCPT TO) is the address's: that mail fails. A
permanent refusal of the sender, of our login or of the content (5xx to MAIL FROM, AUTH, after
DATA) is the relay's own problem, not the address's: the row stays pending, its `last_error`
starting with RELAY_REFUSED, and is retried with backoff, never given up nor reported as
undeliverable; after RELAY_BREAKER such refusals in a row the sweep stops (the rest of the batch
goes back untouched) and no mail is sent until the relay's hold is over (see `relay_hold`).
The delivery itself (app.mail.delivery) records these outcomes; this module classifies them and
reads them back.
"""

import smtplib
from dataclasses import dataclass

import sqlalchemy as sa

from app.clock import now
from app.extensions import db
from app.mail.models import MailStatus, OutboxMail

#: How `last_error` starts for a mail waiting because the relay refused the sender, our login or
#: the content (not the recipient): pending, retried, never given up. `/sante` and the outbox view
#: look for it. RELAY_STOPPED marks the refusals that stopped a sweep (they hold the relay).
RELAY_REFUSED = "Refusé par le serveur d'envoi"
RELAY_STOPPED = f"{RELAY_REFUSED}, envois suspendus"
#: This many relay refusals in a row stop a sweep: a misconfigured relay (sender not allowed, wrong
#: password, a filter refusing everything) must not be offered the whole outbox.
RELAY_BREAKER = 3
#: Minutes to wait after a mail's 1st, 2nd… relay refusal, and to hold the relay after the 1st,
#: 2nd… stopped sweep of an outage; then the last value, as long as it takes.
RELAY_RETRY_MINUTES = (1, 5, 15, 30, 60)

#: What the relay refused, by smtplib's exception (a subclass first).
_RELAY_STEPS = (
    (smtplib.SMTPSenderRefused, "l'expéditeur (MAIL FROM)"),
    (smtplib.SMTPAuthenticationError, "l'identification (AUTH)"),
    (smtplib.SMTPDataError, "le contenu (DATA)"),
)


def recipient_refusal(code: int, answer) -> tuple[str, str]:
    """The recipient refused: 5xx is permanent; anything else (4xx) is worth another try.
    An outcome of app.mail.delivery: ("refused" or "retry", the server's answer)."""
    return ("refused" if 500 <= code < 600 else "retry", _answer(code, answer))


def relay_refusal(error: smtplib.SMTPResponseException) -> tuple[str, str]:
    """The relay refused the sender, our login or the content: 5xx waits for the relay to be
    fixed (not the address's fault), 4xx is worth another try. An outcome of app.mail.delivery:
    ("relay" or "retry", what was refused and the server's answer)."""
    answer = _answer(error.smtp_code, error.smtp_error)
    if not 500 <= error.smtp_code < 600:
        return ("retry", answer)
    step = next((what for kind, what in _RELAY_STEPS if isinstance(error, kind)), "l'envoi")
    return ("relay", f"{step} : {answer}")


def _answer(code: int, answer) -> str:
    text = answer.decode("utf-8", "replace") if isinstance(answer, bytes) else str(answer)
    return f"{code} {text}".strip()


def relay_hold() -> str | None:
    """The relay's last answer while it is held, else None.

    A sweep stopped by the breaker marks its refusals RELAY_STOPPED, retried after a delay that
    grows with the outage (`hold_minutes`, when delivery records them): until the latest of them
    is due, no mail is tried (it would be refused too, and walk the outbox 3 by 3). One query a
    batch, in the index: pending rows not due yet (retries only), not the backlog.
    """
    return db.session.scalar(
        sa.select(OutboxMail.last_error)
        .where(
            OutboxMail.status == MailStatus.pending,
            OutboxMail.next_attempt_at > now(),
            OutboxMail.last_error.startswith(RELAY_STOPPED, autoescape=True),
        )
        .order_by(OutboxMail.next_attempt_at.desc())
        .limit(1)
    )


def hold_minutes() -> int:
    """How long a stopped sweep holds the relay: longer at each stop of the same outage (the
    refusals of the earlier stops still wait, marked RELAY_STOPPED). Runs only when a sweep
    stops."""
    earlier = db.session.scalar(
        sa.select(sa.func.count()).where(  # `sending`: this batch's retries of earlier stops
            OutboxMail.status.in_([MailStatus.pending, MailStatus.sending]),
            OutboxMail.last_error.startswith(RELAY_STOPPED, autoescape=True),
        )
    )
    return RELAY_RETRY_MINUTES[min(earlier // RELAY_BREAKER, len(RELAY_RETRY_MINUTES) - 1)]


@dataclass(frozen=True)
class RelayTrouble:
    """Mails waiting because the relay refused them (sender, login, content): for `/sante` and
    the coordinators' outbox view."""

    waiting: int
    #: The latest such refusal, as recorded on its mail.
    last_answer: str

    def __str__(self) -> str:
        return (
            f"Le serveur d'envoi refuse les courriels (l'expéditeur, l'identification ou le "
            f"contenu, pas les destinataires) : {self.waiting} courriel(s) en attente, renvoyés "
            f"automatiquement une fois le serveur réparé ; aucune inscription n'est annulée. "
            f"Dernière réponse : {self.last_answer}"
        )


def relay_trouble() -> RelayTrouble | None:
    """The mails the relay refused that still wait, or None when there are none (one query)."""
    found = db.session.execute(
        sa.select(OutboxMail.last_error, sa.func.count().over())
        .where(
            OutboxMail.status == MailStatus.pending,
            OutboxMail.last_error.startswith(RELAY_REFUSED, autoescape=True),
        )
        .order_by(OutboxMail.next_attempt_at.desc(), OutboxMail.id.desc())
        .limit(1)
    ).first()
    return RelayTrouble(waiting=found[1], last_answer=found[0]) if found else None
