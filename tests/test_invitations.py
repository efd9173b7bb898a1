"""Calendar invitations in the booking mails, as a real SMTP server receives them: the MIME
layout mail clients recognise, iTIP REQUEST/CANCEL read by `ical`, `vobject` and libical."""

import os
import subprocess
from pathlib import Path

from app.booking import services as booking
from app.mail.delivery import deliver_pending
from tests.conftest import manage_secret, outbox, require
from tests.ical_checks import events, lines

ITIP_CHECK = Path(__file__).parent / "tools" / "itip_check.py"
DEBIAN_PYTHON = "/usr/bin/python3"


def libical_available() -> bool:
    if not os.path.exists(DEBIAN_PYTHON):
        return False
    probe = subprocess.run(
        [DEBIAN_PYTHON, "-c", "import gi; gi.require_version('ICalGLib', '3.0')"],
        capture_output=True,
    )
    return probe.returncode == 0


def itip_check(calendar: bytes) -> None:
    """libical's restriction check for the iTIP method inside (a subprocess of Debian's Python)."""
    require(
        libical_available(), "libical bindings missing (apt-get install python3-gi gir1.2-ical-3.0)"
    )
    done = subprocess.run(
        [DEBIAN_PYTHON, str(ITIP_CHECK)], input=calendar, capture_output=True, timeout=30
    )
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()


def invitation_parts(message):
    """(the text/calendar alternative, the attached .ics), checking the layout on the way."""
    assert message.get_content_type() == "multipart/mixed"
    alternative, attachment = message.get_payload()
    assert alternative.get_content_type() == "multipart/alternative"
    types = [part.get_content_type() for part in alternative.get_payload()]
    assert types == ["text/plain", "text/html", "text/calendar"]  # the calendar last
    calendar_part = alternative.get_payload()[-1]
    assert attachment.get_filename() == "invitation.ics"
    assert attachment.get_content_disposition() == "attachment"
    calendar = calendar_part.get_payload(decode=True)
    assert attachment.get_payload(decode=True) == calendar
    method = [line for line in lines(calendar) if line.startswith("METHOD:")]
    assert [calendar_part.get_param("method")] == [m.split(":", 1)[1] for m in method]
    return calendar_part.get_param("method"), calendar


def only_event(calendar: bytes) -> tuple[str, dict]:
    [(uid, event)] = events(calendar).items()
    return uid, event


def test_confirmation_carries_a_request_the_parsers_and_libical_accept(
    smtp, make_workshop, applicant
):
    workshop = make_workshop(capacity=2)
    registration = booking.register(
        workshop.id, applicant(1, first_name="Zoé", last_name="L'Hôte")
    ).row
    deliver_pending()

    [message] = smtp.messages
    method, calendar = invitation_parts(message)
    assert method == "REQUEST"
    uid, event = only_event(calendar)
    assert uid == f"registration-{registration.id}@ateliers.test"
    assert event["sequence"] == 0 and event["start"] == workshop.starts_at
    unfolded = lines(calendar)
    assert any(
        line.startswith("ORGANIZER;") and "mailto:ateliers-tice@ac-amiens.fr" in line
        for line in unfolded
    )
    assert any(
        line.startswith("ATTENDEE;")
        and line.endswith(":mailto:lea.martin1@ac-amiens.fr")
        and 'CN="Zoé L\'Hôte"' in line
        for line in unfolded
    )
    assert not any(line.startswith("REFRESH-INTERVAL") for line in unfolded)  # not a feed
    itip_check(calendar)


def test_cancelling_sends_a_cancel_with_the_same_uid_and_a_higher_sequence(
    smtp, make_workshop, applicant
):
    booking.register(make_workshop(capacity=2).id, applicant(1))
    booking.cancel(manage_secret(outbox("confirmed")[0]))
    deliver_pending()

    confirmation, cancellation = smtp.messages
    _, request = invitation_parts(confirmation)
    method, cancel = invitation_parts(cancellation)
    assert method == "CANCEL"
    (uid, first), (same_uid, second) = only_event(request), only_event(cancel)
    assert uid == same_uid
    assert second["sequence"] > first["sequence"]
    assert second["status"] == "CANCELLED"
    itip_check(cancel)


def test_promotion_carries_a_request_waiting_carries_none(smtp, make_workshop, applicant):
    workshop = make_workshop(capacity=1)
    booking.register(workshop.id, applicant(1))
    booking.register(workshop.id, applicant(2))
    deliver_pending()
    [waiting] = smtp.to("lea.martin2@ac-amiens.fr")
    assert "text/calendar" not in {part.get_content_type() for part in waiting.walk()}

    booking.cancel(manage_secret(outbox("confirmed")[0]))
    deliver_pending()
    promoted = smtp.to("lea.martin2@ac-amiens.fr")[-1]
    method, calendar = invitation_parts(promoted)
    assert method == "REQUEST"
    _, event = only_event(calendar)
    assert event["sequence"] == 1 and event["status"] == "CONFIRMED"
    itip_check(calendar)


def test_reply_to_is_set_when_configured(app, smtp, make_workshop, applicant):
    app.config["MAIL_REPLY_TO"] = "crdp-ateliers@ac-amiens.fr"
    booking.register(make_workshop().id, applicant(1, first_name="Jean"))
    deliver_pending()
    assert smtp.messages[0]["Reply-To"] == "crdp-ateliers@ac-amiens.fr"
