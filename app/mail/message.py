"""The MIME bytes of an outbox row: `build_message()` turns a row into the mail sent, envelope
included (`Outgoing`), or says why it cannot (`UnsendableMail`).

Written here rather than by Flask-Mail and `email.mime`: the generator of the `email` package
costs most of a delivery (about 1 ms a mail, the SMTP exchange with a local relay about 0.3 ms).
The layout is fixed and small, see `build_message`; tests parse what an SMTP server receives with
the standard `email` package. The coordinators' outbox view shows a mail from the same bytes.
"""

import base64
import functools
import re
import secrets
from dataclasses import dataclass
from email.header import Header
from email.quoprimime import body_encode as quoted_printable
from email.utils import formataddr, formatdate, parseaddr
from urllib.parse import quote, urlsplit

from flask import current_app
from flask_mail import sanitize_address

from app.clock import now
from app.mail.models import OutboxMail

CRLF = "\r\n"
#: type/subtype, optionally with parameters: what an attachment's Content-Type may be (checked
#: when the mail is queued, and again when it is built).
CONTENT_TYPE = re.compile(
    r"[A-Za-z0-9][\w!#$&^.+-]*/[A-Za-z0-9][\w!#$&^.+-]*"
    r'(\s*;\s*[\w!#$&^.+-]+=([\w!#$&^.+-]+|"[^"\\\x00-\x1f\x7f]*"))*',
    re.ASCII,
)
#: An address that is its own header value and envelope: ASCII, no display name.
_plain_address = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+").fullmatch
_calendar_method = re.compile(r"[A-Za-z][A-Za-z-]*").fullmatch


@dataclass(frozen=True)
class Outgoing:
    """A mail ready for the wire: its envelope and its bytes."""

    sender: str  # MAIL FROM
    recipient: str  # RCPT TO
    message_id: str
    data: bytes


class UnsendableMail(ValueError):
    """A row that cannot become a mail as it is: its message says why, in French."""


def message_id_for(row: OutboxMail) -> str:
    host = _hostname(current_app.config["PUBLIC_BASE_URL"])
    return f"<outbox-{row.id}.{int(row.created_at.timestamp())}@{host}>"


@functools.lru_cache(maxsize=8)
def _hostname(url: str) -> str:
    return urlsplit(url).hostname or "localhost"


@functools.lru_cache(maxsize=8)
def _date(timestamp: int) -> str:
    return formatdate(timestamp, localtime=True)


def build_message(row: OutboxMail) -> Outgoing:
    """The mail of an outbox row, as sent; the same row always gives the same Message-ID.

    multipart/mixed [
        multipart/alternative (text/plain, text/html, text/calendar; method=X — last),
        the invitation as invitation.ics, the row's attachments (base64) ]
    Headers: Subject and display names in RFC 2047 words when not ASCII; a line break in a
    header value (an injection) raises UnsendableMail. Text parts are UTF-8, 8bit unless a line
    is longer than 998 octets (quoted-printable then).
    """
    config = current_app.config
    sender, reply_to = config["MAIL_DEFAULT_SENDER"], config["MAIL_REPLY_TO"]
    if any(
        "\r" in value or "\n" in value
        for value in (row.subject, row.recipient, sender, reply_to or "")
    ):
        raise UnsendableMail("en-têtes invalides (retour à la ligne dans un en-tête)")
    alternatives = _alternatives(row)
    files = _files(row)
    message_id = message_id_for(row)
    headers = _headers(row, sender, reply_to, message_id)
    head, body = _assemble(headers, alternatives, files)
    return Outgoing(
        sender=_envelope_address(sender),
        recipient=_envelope_address(row.recipient),
        message_id=message_id,
        data=(head + CRLF + CRLF).encode("ascii") + body,
    )


def _alternatives(row: OutboxMail) -> list[bytes]:
    """The parts of multipart/alternative: the text, the HTML, the invitation (last, as mail
    clients expect it)."""
    alternatives = [_text_part("plain", row.body_text or "")]
    if row.body_html is not None:
        alternatives.append(_text_part("html", row.body_html))
    if row.calendar_ics is not None:
        if not _calendar_method(row.calendar_method or ""):
            raise UnsendableMail(f"méthode d'invitation invalide : {row.calendar_method!r}")
        method = f'; method="{row.calendar_method}"'
        alternatives.append(_text_part("calendar", row.calendar_ics, method))
    return alternatives


def _files(row: OutboxMail) -> list[bytes]:
    """The attached files: the invitation as invitation.ics, then the row's attachments."""
    files = []
    if row.calendar_ics is not None:
        files.append(_file_part("invitation.ics", "application/ics", row.calendar_ics.encode()))
    for attachment in row.attachments:
        if not CONTENT_TYPE.fullmatch(attachment.content_type):
            raise UnsendableMail(f"type de pièce jointe invalide : {attachment.content_type!r}")
        files.append(
            _file_part(attachment.filename, attachment.content_type, attachment.data or b"")
        )
    return files


def _headers(row: OutboxMail, sender: str, reply_to: str | None, message_id: str) -> list[str]:
    """The message's own headers, each a line (folded lines included), MIME ones aside."""
    headers = []
    if row.subject:
        headers.append(f"Subject: {_encoded_text('Subject', row.subject)}")
    headers += [
        f"From: {_encoded_address('From', sender)}",
        f"To: {_encoded_address('To', row.recipient)}",
        f"Date: {_date(int(now().timestamp()))}",
        f"Message-ID: {message_id}",
    ]
    if reply_to:
        headers.append(f"Reply-To: {_encoded_address('Reply-To', reply_to)}")
    headers.append("Auto-Submitted: auto-generated")
    return headers


def _assemble(
    headers: list[str], alternatives: list[bytes], files: list[bytes]
) -> tuple[str, bytes]:
    """The message's head (without the blank line that ends it) and its body."""
    if len(alternatives) == 1 and not files:  # text only: a single part is the whole message
        part_head, body = alternatives[0].split(b"\r\n\r\n", 1)
        return part_head.decode("ascii") + CRLF + CRLF.join(headers), body
    boundary = _boundary([*alternatives, *files])
    body = alternatives[0]
    if len(alternatives) > 1:
        body = _multipart_part("alternative", f"=_a{boundary}", alternatives)
    body = _multipart(f"=_m{boundary}", [body, *files])
    head = CRLF.join(
        [f'Content-Type: multipart/mixed; boundary="=_m{boundary}"', "MIME-Version: 1.0"] + headers
    )
    return head, body


def _text_part(subtype: str, text: str, params: str = "") -> bytes:
    """A UTF-8 text part with CRLF line ends: 8bit (7bit when ASCII) while every line fits the
    998 octets of RFC 5322, quoted-printable otherwise."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    data = text.replace("\n", CRLF).encode("utf-8")
    if len(data) > 998 and max(map(len, data.split(b"\r\n"))) > 998:
        encoding = "quoted-printable"
        data = quoted_printable(data.decode("latin-1"), eol=CRLF).encode("ascii")
    else:
        encoding = "7bit" if data.isascii() else "8bit"
    head = (
        f'Content-Type: text/{subtype}; charset="utf-8"{params}{CRLF}MIME-Version: 1.0{CRLF}'
        f"Content-Transfer-Encoding: {encoding}{CRLF}{CRLF}"
    )
    return head.encode("ascii") + data


def _file_part(filename: str, content_type: str, data: bytes) -> bytes:
    head = (
        f"Content-Type: {content_type}{CRLF}MIME-Version: 1.0{CRLF}"
        f"Content-Transfer-Encoding: base64{CRLF}"
        f"Content-Disposition: attachment;{_filename_parameter(filename)}{CRLF}{CRLF}"
    )
    return head.encode("ascii") + base64.encodebytes(data).replace(b"\n", b"\r\n")


@functools.lru_cache(maxsize=256)
def _filename_parameter(filename: str) -> str:
    """` filename="…"` for a plain ASCII name; RFC 2231 (percent-encoded UTF-8, continued over
    lines of at most 78 octets) for any other, which also neutralises quotes and line breaks."""
    if re.fullmatch(r"[ !#-\[\]-~]+", filename):  # printable ASCII but " and \
        return f'{CRLF} filename="{filename}"' if len(filename) > 50 else f' filename="{filename}"'
    encoded = "utf-8''" + quote(filename, safe="")
    chunks, start = [], 0
    while start < len(encoded):
        end = min(start + 60, len(encoded))
        cut = encoded.rfind("%", end - 2, end)  # never split a %XX
        end = cut if cut > start else end
        chunks.append(encoded[start:end])
        start = end
    if len(chunks) == 1:
        return f"{CRLF} filename*={encoded}"
    return ";".join(f"{CRLF} filename*{n}*={chunk}" for n, chunk in enumerate(chunks))


def _multipart(boundary: str, parts: list[bytes]) -> bytes:
    """The body of a multipart: each part after its delimiter, then the close delimiter."""
    delimiter = f"{CRLF}--{boundary}{CRLF}".encode("ascii")
    return (
        f"--{boundary}{CRLF}".encode("ascii")
        + delimiter.join(parts)
        + f"{CRLF}--{boundary}--{CRLF}".encode("ascii")
    )


def _multipart_part(subtype: str, boundary: str, parts: list[bytes]) -> bytes:
    head = (
        f'Content-Type: multipart/{subtype}; boundary="{boundary}"{CRLF}'
        f"MIME-Version: 1.0{CRLF}{CRLF}"
    )
    return head.encode("ascii") + _multipart(boundary, parts)


def _boundary(texts: list[bytes]) -> str:
    """A random boundary token found in none of the parts."""
    while True:
        token = secrets.token_hex(12)
        if not any(token.encode("ascii") in text for text in texts):
            return token


@functools.lru_cache(maxsize=1024)
def _encoded_text(name: str, value: str) -> str:
    """An unstructured header's value: RFC 2047 words when not ASCII, folded at 78 octets with
    `Name: ` counted (cached: a batch has few distinct subjects)."""
    if value.isascii() and len(name) + 2 + len(value) <= 78:
        return value
    charset = "us-ascii" if value.isascii() else "utf-8"
    return Header(value, charset, header_name=name).encode(linesep=CRLF)


def _encoded_address(name: str, address: str) -> str:
    """An address header's value: a plain address as it is, a display name in RFC 2047 words
    when not ASCII."""
    if _plain_address(address):
        return address
    return _encoded_named_address(name, address)


@functools.lru_cache(maxsize=1024)
def _encoded_named_address(name: str, address: str) -> str:
    display, addr = parseaddr(address)
    if not addr or not addr.isascii():
        return sanitize_address(address)  # an internationalised domain: Flask-Mail's way
    if not display:
        return addr
    if display.isascii():
        return formataddr((display, addr))
    words = Header(display, "utf-8", header_name=name).encode(linesep=CRLF)
    last_line = words.rsplit(CRLF, 1)[-1]
    width = len(last_line) + (0 if CRLF in words else len(name) + 2)
    fold = CRLF if width + len(addr) + 3 > 78 else ""
    return f"{words}{fold} <{addr}>"


@functools.lru_cache(maxsize=64)
def _named_envelope(address: str) -> str:
    return parseaddr(sanitize_address(address))[1] or address


def _envelope_address(address: str) -> str:
    """The bare address for MAIL FROM / RCPT TO."""
    return address if _plain_address(address) else _named_envelope(address)
