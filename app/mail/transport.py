"""The wire: one SMTP connection for a batch, or .eml files in MAIL_FILE_DIR when no MAIL_SERVER
is set (development reads them with any mail client).

`transport` is what app.mail.delivery sends through: it raises smtplib's own exceptions, which
delivery turns into outcomes, and calls `before_data` between RCPT TO and DATA so that a mail's
content goes only once the previous mail is recorded sent (app.mail.recorder).
"""

import contextlib
import smtplib
from pathlib import Path

from flask import current_app

from app.mail.message import Outgoing


class transport:
    """Sends over one SMTP connection, or writes .eml files when no MAIL_SERVER is set;
    `before_data` is called before each mail's content goes (see `app.mail.recorder.Recorder`)."""

    def __init__(self, before_data=lambda: None):
        self.before_data = before_data

    def __enter__(self):
        self._smtp = None
        before_data = self.before_data
        if not current_app.config.get("MAIL_SERVER"):
            directory = Path(current_app.config["MAIL_FILE_DIR"])
            directory.mkdir(parents=True, exist_ok=True)
            return lambda message: (before_data(), _write_eml(directory, message))
        settings = current_app.extensions["mail"]  # Flask-Mail's state: server, port, TLS…
        if settings.suppress:
            return lambda message: before_data()
        self._smtp = smtp = _connect(settings, current_app.config["MAIL_SMTP_TIMEOUT"])
        options = ["BODY=8BITMIME"] if smtp.has_extn("8bitmime") else []
        if smtp.has_extn("size"):
            return lambda message: _sendmail(
                smtp, message, [f"SIZE={len(message.data)}", *options], before_data
            )
        return lambda message: _sendmail(smtp, message, options, before_data)

    def __exit__(self, *exc_info):
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                self._smtp.close()  # QUIT may fail: the mails were accepted
        return False


def _sendmail(smtp: smtplib.SMTP, message: Outgoing, options: list[str], before_data) -> None:
    """What `smtplib.SMTP.sendmail()` does for one recipient, raising the same exceptions, with
    `before_data()` called between RCPT TO and DATA."""
    code, answer = smtp.mail(message.sender, options)
    if code != 250:
        _abandon(smtp, code)
        raise smtplib.SMTPSenderRefused(code, answer, message.sender)
    code, answer = smtp.rcpt(message.recipient)
    if code not in (250, 251):
        _abandon(smtp, code)
        raise smtplib.SMTPRecipientsRefused({message.recipient: (code, answer)})
    before_data()
    code, answer = smtp.data(message.data)
    if code != 250:
        _abandon(smtp, code)
        raise smtplib.SMTPDataError(code, answer)


def _abandon(smtp: smtplib.SMTP, code: int) -> None:
    """After a refusal: a 421 closes the connection, anything else resets the transaction."""
    if code == 421:
        smtp.close()
        return
    with contextlib.suppress(smtplib.SMTPServerDisconnected):
        smtp.rset()


def _connect(settings, timeout: float) -> smtplib.SMTP:
    """What Flask-Mail's connection does, with a timeout: a dead relay must not hang the sweep."""
    factory = smtplib.SMTP_SSL if settings.use_ssl else smtplib.SMTP
    smtp = factory(settings.server, settings.port, timeout=timeout)
    try:
        if settings.use_tls:
            smtp.starttls()
        if settings.username and settings.password:
            smtp.login(settings.username, settings.password)
        smtp.ehlo_or_helo_if_needed()  # the extensions it announces: 8BITMIME
    except BaseException:
        smtp.close()
        raise
    return smtp


def _write_eml(directory: Path, message: Outgoing) -> None:
    name = message.message_id.strip("<>").split("@")[0]
    (directory / f"{name}.eml").write_bytes(message.data)
