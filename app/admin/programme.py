"""The programme for the teachers: a mail to the mailing lists and a poster per site.

`programme(period, sites)` picks the published workshops of a period at some sites, grouped by
site then day, with their seats left; the mail (`send_programme`) and the poster (`poster_pdf`)
are two renderings of it. Every link carries a source marker (`?source=liste` in the mail,
`?source=affiche` on posters) that rides into the registration and the figures, and is built from
PUBLIC_BASE_URL: the links leave the service in mails and on paper.

What a coordinator types is checked here, not in the view (`read_request`), so that the preview,
the sending and the poster refuse the same things with the same French messages.
"""

import json
import unicodedata
import zlib
from dataclasses import dataclass, field
from datetime import date, timedelta
from urllib.parse import urlencode

import segno
import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask import current_app, render_template
from sqlalchemy.orm import joinedload

from app.booking.models import Source
from app.booking.services import SeatCount, seat_counts
from app.catalog.models import Room, Site, Workshop, WorkshopStatus
from app.clock import now
from app.database import begin_write
from app.extensions import db
from app.formatting import Period, PeriodError, of_place, read_period, time_fr, to_paris
from app.mail import services as mail
from app.mail.models import OutboxMail
from app.pdf import render_pdf
from app.staff import audit
from app.staff.models import AuditEntry, StaffUser

MAIL_TEMPLATE = "admin/programme"
#: A programme covers at most a year (inclusive days): a school year fits, a typo like 2062 not.
MAX_PERIOD_DAYS = 366
MAX_SUBJECT_LENGTH = 200
MAX_INTRO_LENGTH = 3000
#: The same programme sent again this soon is a double click or a reloaded page: refused.
RESEND_GUARD = timedelta(minutes=10)
#: Serialises the sendings on PostgreSQL (a transaction-level advisory lock).
SEND_LOCK_KEY = zlib.crc32(b"ateliers-tice:programme-send")
#: The printed width of a QR code's symbol, its quiet zone (in modules) added around it: big
#: enough for a phone held at arm's length in front of a poster.
WORKSHOP_QR_MM = 22
CATALOGUE_QR_MM = 45
QR_QUIET_ZONE = 4


class ProgrammeError(ValueError):
    """What the coordinator asked cannot be done; `str()` is the French explanation."""


class ProgrammeInputError(ProgrammeError):
    """The form is wrong: `messages` lists every problem, in French."""

    def __init__(self, messages: list[str]):
        super().__init__(" ".join(messages))
        self.messages = messages


# --- the period and what is asked ---------------------------------------------------------------


def default_period() -> Period:
    """What the form proposes: from today to the end of next month."""
    today = to_paris(now()).date()
    first_of_next = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    end_of_next = (first_of_next + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return Period(today, end_of_next)


def default_subject(period: Period) -> str:
    return f"Programme des ateliers TICE – {period.short_label}"


@dataclass(frozen=True)
class ProgrammeRequest:
    """A checked form: what to list, and the mail's subject and introduction."""

    period: Period
    sites: list[Site]
    subject: str
    intro: str


def read_request(
    start: str,
    end: str,
    site_slugs: list[str],
    subject: str = "",
    intro: str = "",
) -> ProgrammeRequest:
    """The form's raw strings, checked: a ProgrammeInputError lists every problem at once.

    An empty subject takes the default one for the period.
    """
    problems = []
    period = None
    try:
        period = read_programme_period(start, end)
    except ProgrammeError as error:
        problems.append(str(error))
    chosen = []
    try:
        chosen = read_sites(site_slugs)
    except ProgrammeError as error:
        problems.append(str(error))
    if not (subject or "").strip() and period is not None:
        subject = default_subject(period)
    try:
        subject = check_subject(subject)
    except ProgrammeError as error:
        problems.append(str(error))
    try:
        intro = check_intro(intro)
    except ProgrammeError as error:
        problems.append(str(error))
    if problems:
        raise ProgrammeInputError(problems)
    return ProgrammeRequest(period=period, sites=chosen, subject=subject, intro=intro)


def read_programme_period(first: str, last: str) -> Period:
    """Two typed dates (see `app.formatting.read_period`), at most a year apart."""
    try:
        period = read_period(first, last)
    except PeriodError as error:
        raise ProgrammeError(str(error)) from None
    if period.days > MAX_PERIOD_DAYS:
        raise ProgrammeError(
            "La période dépasse un an : choisissez au plus une année scolaire "
            "(par exemple du 1er septembre au 31 août)."
        )
    return period


def read_sites(slugs: list[str]) -> list[Site]:
    """The sites named (at least one, each known), in the catalogue's order."""
    wanted = {slug.strip() for slug in slugs if slug and slug.strip()}
    if not wanted:
        raise ProgrammeError("Choisissez au moins un site.")
    known = {site.slug: site for site in db.session.scalars(sa.select(Site).order_by(Site.name))}
    unknown = sorted(wanted - known.keys())
    if unknown:
        shown = ", ".join(f"« {slug[:40]} »" for slug in unknown[:3])
        raise ProgrammeError(f"Site inconnu : {shown}. Choisissez parmi les sites proposés.")
    return [site for slug, site in known.items() if slug in wanted]


def check_subject(subject: str) -> str:
    """One line (a line break would forge mail headers), not empty, not too long."""
    subject = subject or ""
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in subject):
        raise ProgrammeError(
            "L'objet du courriel doit tenir sur une ligne, sans retour à la ligne ni caractère "
            "invisible."
        )
    subject = " ".join(subject.split())
    if not subject:
        raise ProgrammeError("Indiquez l'objet du courriel.")
    if len(subject) > MAX_SUBJECT_LENGTH:
        raise ProgrammeError(
            f"L'objet du courriel est trop long ({len(subject)} caractères, "
            f"{MAX_SUBJECT_LENGTH} au plus)."
        )
    return subject


def check_intro(intro: str) -> str:
    """Plain text in paragraphs (HTML is escaped when shown); line breaks kept, nothing invisible."""
    intro = (intro or "").replace("\r\n", "\n").replace("\r", "\n")
    if any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in intro):
        raise ProgrammeError("L'introduction contient des caractères invisibles : retapez-la.")
    intro = "\n".join(line.rstrip() for line in intro.strip().split("\n"))
    if len(intro) > MAX_INTRO_LENGTH:
        raise ProgrammeError(
            f"L'introduction est trop longue ({len(intro)} caractères, {MAX_INTRO_LENGTH} au plus) : "
            "un court paragraphe suffit, le programme suit."
        )
    return intro


def paragraphs(text: str) -> list[str]:
    """Blocks separated by a blank line."""
    blocks = [block.strip() for block in text.split("\n\n")]
    return [block for block in blocks if block]


# --- the programme ------------------------------------------------------------------------------


def programme_link(workshop: Workshop, source: Source | str) -> str:
    """The workshop's public page with its source marker: what a mail or a QR code points to."""
    return _public_url(f"/ateliers/{workshop.id}", source=Source(source).value)


def catalogue_link(source: Source | str, site: Site | None = None) -> str:
    """The catalogue (of one site, when given), with the source marker."""
    args = {"site": site.slug} if site is not None else {}
    return _public_url("/ateliers", **args, source=Source(source).value)


def _public_url(path: str, **args: str) -> str:
    return f"{current_app.config['PUBLIC_BASE_URL']}{path}?{urlencode(args)}"


@dataclass(frozen=True)
class Line:
    """One workshop of the programme."""

    workshop: Workshop
    seats: SeatCount
    #: Its page with the source marker of the medium (mail or poster).
    link: str

    @property
    def seats_text(self) -> str:
        left = self.seats.left
        if left == 0:
            return "Complet : inscription en liste d'attente"
        return f"{left} place restante" if left == 1 else f"{left} places restantes"


@dataclass(frozen=True)
class Day:
    day: date
    lines: list[Line]


@dataclass(frozen=True)
class SiteProgramme:
    site: Site
    days: list[Day]
    #: The site's catalogue, with the source marker.
    catalogue_link: str

    @property
    def lines(self) -> list[Line]:
        return [line for day in self.days for line in day.lines]

    @property
    def name_with_de(self) -> str:
        """'d'Amiens', 'de Péronne': "le site d'Amiens"."""
        return of_place(self.site.name)


@dataclass(frozen=True)
class Programme:
    period: Period
    #: The chosen sites that have workshops in the period, in the catalogue's order.
    sites: list[SiteProgramme]
    #: The whole catalogue, with the source marker.
    catalogue_link: str
    #: Chosen sites without any workshop in the period.
    empty_sites: list[Site] = field(default_factory=list)

    @property
    def lines(self) -> list[Line]:
        return [line for site in self.sites for line in site.lines]

    @property
    def empty(self) -> bool:
        return not self.sites


def workshops_in(period: Period, sites: list[Site]) -> list[Workshop]:
    """Published workshops of these sites starting in the period and not started yet (nobody can
    register to those any more), by date."""
    query = (
        sa.select(Workshop)
        .join(Workshop.room)
        .options(
            joinedload(Workshop.room).joinedload(Room.site),
            joinedload(Workshop.topic),
        )
        .where(
            Workshop.status == WorkshopStatus.published,
            Room.site_id.in_([site.id for site in sites]),
            Workshop.starts_at >= period.starts_at,
            Workshop.starts_at < period.ends_at,
            Workshop.starts_at > now(),
        )
        .order_by(Workshop.starts_at, Workshop.id)
    )
    return list(db.session.scalars(query).unique())


def programme(
    period: Period,
    sites: list[Site],
    source: Source | str = Source.mailing_list,
) -> Programme:
    """The workshops of the period at these sites, grouped by site then day, links for `source`."""
    workshops = workshops_in(period, sites)
    seats = seat_counts(workshops)
    by_site: dict[int, dict[date, list[Line]]] = {site.id: {} for site in sites}
    for workshop in workshops:
        line = Line(workshop, seats[workshop.id], programme_link(workshop, source))
        day = to_paris(workshop.starts_at).date()
        by_site[workshop.room.site_id].setdefault(day, []).append(line)
    ordered = sorted(sites, key=lambda site: (site.name, site.id))
    return Programme(
        period=period,
        sites=[
            SiteProgramme(
                site,
                [Day(day, lines) for day, lines in by_site[site.id].items()],
                catalogue_link(source, site),
            )
            for site in ordered
            if by_site[site.id]
        ],
        catalogue_link=catalogue_link(source),
        empty_sites=[site for site in ordered if not by_site[site.id]],
    )


def _refuse_empty(listed: Programme) -> None:
    if listed.empty:
        names = ", ".join(site.name for site in listed.empty_sites)
        raise ProgrammeError(
            f"Aucun atelier publié à venir {listed.period.short_label} ({names}) : "
            "rien à envoyer. Publiez des ateliers ou choisissez une autre période."
        )


# --- the mail -----------------------------------------------------------------------------------


def list_addresses() -> list[str]:
    """The mailing lists the programme goes to (PROGRAMME_LIST_ADDRESSES), each checked."""
    addresses = list(dict.fromkeys(current_app.config.get("PROGRAMME_LIST_ADDRESSES") or []))
    if not addresses:
        raise ProgrammeError(
            "Aucune liste de diffusion n'est configurée : l'administrateur du service doit "
            "renseigner la variable d'environnement PROGRAMME_LIST_ADDRESSES (adresses séparées "
            "par des virgules, par exemple « ecoles-amiens@ac-amiens.fr,ecoles-abbeville@ac-"
            "amiens.fr ») puis redémarrer le service."
        )
    for address in addresses:
        try:
            validate_email(address, check_deliverability=False, allow_smtputf8=False)
        except EmailNotValidError:
            raise ProgrammeError(
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


def _mail_context(listed: Programme, intro: str) -> dict:
    return {"programme": listed, "intro_paragraphs": paragraphs(intro)}


def preview(period: Period, sites: list[Site], subject: str, intro: str) -> Preview:
    """The mail as the lists will receive it (refused like the sending when nothing to send)."""
    subject, intro = check_subject(subject), check_intro(intro)
    listed = programme(period, sites, Source.mailing_list)
    _refuse_empty(listed)
    context = {
        "subject": subject,
        "base_url": current_app.config["PUBLIC_BASE_URL"],
        **_mail_context(listed, intro),
    }
    return Preview(
        programme=listed,
        subject=subject,
        text=render_template(f"mail/{MAIL_TEMPLATE}.txt", **context),
        html=render_template(f"mail/{MAIL_TEMPLATE}.html", **context),
    )


def send_programme(
    actor: StaffUser | None, period: Period, sites: list[Site], subject: str, intro: str
) -> list[OutboxMail]:
    """Queue one mail per list address and log it, in one transaction; committed.

    Raises ProgrammeError (nothing written) when there is no list, nothing to send, or the
    subject or introduction is refused.
    """
    subject, intro = check_subject(subject), check_intro(intro)
    addresses = list_addresses()
    begin_write()
    try:
        _one_sending_at_a_time()
        listed = programme(period, sites, Source.mailing_list)
        _refuse_empty(listed)
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
            raise ProgrammeError(
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


# --- the posters --------------------------------------------------------------------------------


@dataclass(frozen=True)
class QrCode:
    """A QR code to print: inline SVG whose width includes the quiet zone."""

    url: str
    svg: str
    #: Printed width of the whole image, and of the symbol inside its quiet zone.
    width_mm: float
    symbol_mm: float


def qr_code(url: str, symbol_mm: float) -> QrCode:
    """Error correction M at least (segno raises it when that costs no size), a full quiet zone,
    and a symbol `symbol_mm` wide once printed."""
    code = segno.make_qr(url, error="m")
    modules = code.symbol_size(border=0)[0]
    width = symbol_mm * (modules + 2 * QR_QUIET_ZONE) / modules
    svg = code.svg_inline(
        border=QR_QUIET_ZONE,
        omitsize=True,
        dark="#000",
        light="#fff",
        svgclass="qr",
        title=url,
    )
    return QrCode(url=url, svg=svg, width_mm=round(width, 2), symbol_mm=symbol_mm)


def poster_html(site: Site, period: Period) -> str:
    """The A4 poster of one site, as HTML for WeasyPrint; ProgrammeError when it would be empty."""
    listed = programme(period, [site], Source.poster)
    if listed.empty:
        raise ProgrammeError(
            f"Aucun atelier publié à venir sur le site {of_place(site.name)} {period.short_label} : "
            "pas d'affiche à imprimer. Choisissez une autre période."
        )
    part = listed.sites[0]
    return render_template(
        "admin/programme_poster.html",
        part=part,
        period=period,
        catalogue=qr_code(part.catalogue_link, CATALOGUE_QR_MM),
        # What a reader without a camera types: no scheme, no source marker.
        typed_address=_public_url("/ateliers", site=site.slug).split("://", 1)[-1],
        codes={line.workshop.id: qr_code(line.link, WORKSHOP_QR_MM) for line in part.lines},
    )


def poster_pdf(site: Site, period: Period) -> bytes:
    return render_pdf(poster_html(site, period))


def poster_filename(site: Site, period: Period) -> str:
    """'affiche-amiens-2026-03-02_2026-04-30.pdf' (site slugs are ASCII). The dates are joined by
    "_", not by the figures' "-au-" (`Period.slug`): posters' file names stay as published."""
    return f"affiche-{site.slug}-{period.first_day.isoformat()}_{period.last_day.isoformat()}.pdf"
