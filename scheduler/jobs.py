"""The periodic sweeps. Each opens an app context and calls a service in app/: the database is
the only source of truth, so a restart loses nothing and a late run catches up."""

import logging

from app.mail.services import deliver_pending

log = logging.getLogger("scheduler")


def deliver_outbox(app) -> None:
    """Send the mails the business transactions left in the outbox."""
    with app.app_context():
        deliver_pending()


#: (job function, setting holding its interval in seconds)
SWEEPS = [(deliver_outbox, "SCHEDULER_DELIVERY_SECONDS")]
