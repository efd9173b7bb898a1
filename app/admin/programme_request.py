"""What a coordinator asks for the programme, checked before anything is listed or sent.

The form's raw strings are checked here, not in the view (`read_request`), so that the preview,
the sending and the poster refuse the same things with the same French messages; every refusal
is a ProgrammeRefused whose text is the explanation.
"""

import unicodedata
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from app.catalog.models import Site
from app.clock import now
from app.errors import Refused
from app.extensions import db
from app.formatting import Period, PeriodError, read_period, to_paris

#: A programme covers at most a year (inclusive days): a school year fits, a typo like 2062 not.
MAX_PERIOD_DAYS = 366
MAX_SUBJECT_LENGTH = 200
MAX_INTRO_LENGTH = 3000


class ProgrammeRefused(Refused):
    """What the coordinator asked cannot be done; `str()` is the French explanation."""


class ProgrammeInputRefused(ProgrammeRefused):
    """The form is wrong: `reasons` lists every problem, in French."""


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
    """The form's raw strings, checked: a ProgrammeInputRefused lists every problem at once.

    An empty subject takes the default one for the period.
    """
    problems = []
    period = None
    try:
        period = read_programme_period(start, end)
    except ProgrammeRefused as error:
        problems.append(str(error))
    chosen = []
    try:
        chosen = read_sites(site_slugs)
    except ProgrammeRefused as error:
        problems.append(str(error))
    if not (subject or "").strip() and period is not None:
        subject = default_subject(period)
    try:
        subject = check_subject(subject)
    except ProgrammeRefused as error:
        problems.append(str(error))
    try:
        intro = check_intro(intro)
    except ProgrammeRefused as error:
        problems.append(str(error))
    if problems:
        raise ProgrammeInputRefused(*problems)
    return ProgrammeRequest(period=period, sites=chosen, subject=subject, intro=intro)


def read_programme_period(first: str, last: str) -> Period:
    """Two typed dates (see `app.formatting.read_period`), at most a year apart."""
    try:
        period = read_period(first, last)
    except PeriodError as error:
        raise ProgrammeRefused(str(error)) from None
    if period.days > MAX_PERIOD_DAYS:
        raise ProgrammeRefused(
            "La période dépasse un an : choisissez au plus une année scolaire "
            "(par exemple du 1er septembre au 31 août)."
        )
    return period


def read_sites(slugs: list[str]) -> list[Site]:
    """The sites named (at least one, each known), in the catalogue's order."""
    wanted = {slug.strip() for slug in slugs if slug and slug.strip()}
    if not wanted:
        raise ProgrammeRefused("Choisissez au moins un site.")
    known = {site.slug: site for site in db.session.scalars(sa.select(Site).order_by(Site.name))}
    unknown = sorted(wanted - known.keys())
    if unknown:
        shown = ", ".join(f"« {slug[:40]} »" for slug in unknown[:3])
        raise ProgrammeRefused(f"Site inconnu : {shown}. Choisissez parmi les sites proposés.")
    return [site for slug, site in known.items() if slug in wanted]


def check_subject(subject: str) -> str:
    """One line (a line break would forge mail headers), not empty, not too long."""
    subject = subject or ""
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in subject):
        raise ProgrammeRefused(
            "L'objet du courriel doit tenir sur une ligne, sans retour à la ligne ni caractère "
            "invisible."
        )
    subject = " ".join(subject.split())
    if not subject:
        raise ProgrammeRefused("Indiquez l'objet du courriel.")
    if len(subject) > MAX_SUBJECT_LENGTH:
        raise ProgrammeRefused(
            f"L'objet du courriel est trop long ({len(subject)} caractères, "
            f"{MAX_SUBJECT_LENGTH} au plus)."
        )
    return subject


def check_intro(intro: str) -> str:
    """Plain text in paragraphs (HTML is escaped when shown); line breaks kept, nothing invisible."""
    intro = (intro or "").replace("\r\n", "\n").replace("\r", "\n")
    if any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in intro):
        raise ProgrammeRefused("L'introduction contient des caractères invisibles : retapez-la.")
    intro = "\n".join(line.rstrip() for line in intro.strip().split("\n"))
    if len(intro) > MAX_INTRO_LENGTH:
        raise ProgrammeRefused(
            f"L'introduction est trop longue ({len(intro)} caractères, {MAX_INTRO_LENGTH} au plus) : "
            "un court paragraphe suffit, le programme suit."
        )
    return intro


def paragraphs(text: str) -> list[str]:
    """Blocks separated by a blank line."""
    blocks = [block.strip() for block in text.split("\n\n")]
    return [block for block in blocks if block]
