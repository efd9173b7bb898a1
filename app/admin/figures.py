"""Figures for the steering committee (comité de pilotage) and the funder's reports.

For a school year (1 September – 31 August, Paris days) or any period of Paris days, overall and
broken down by site, level and topic. A workshop belongs to the period in which it starts.

`FIGURES` below is the one place where each figure is defined: the page, the PDF report and the
CSV export show these labels and definitions, and `Line.value(key)` computes them.

The computation is a fixed handful of queries whatever the number of workshops: one row per
workshop of the period, then registrations, attendance and questionnaire answers grouped by
workshop (and the present people, one row each, for the distinct counts). Every breakdown line is
the sum of its workshops' facts, except the distinct teachers and schools, which are sets.
"""

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from babel.numbers import format_decimal

from app.attendance.models import (
    Attendance,
    LevelFit,
    Presence,
    QuestionnaireAnswer,
    SessionClosure,
    WillUse,
)
from app.booking.models import Registration, RegistrationStatus, Source
from app.catalog.models import Level, Room, Site, Topic, Workshop, WorkshopStatus
from app.clock import now
from app.extensions import db
from app.formatting import (
    LOCALE,
    Period,
    PeriodError,
    current_school_year,
    folded,
    read_period,
    school_year_label,
    shown_back,
)

# --- periods ----------------------------------------------------------------------------------

#: The agreement with Somme Numérique dates from October 2013: its first school year.
FIRST_SCHOOL_YEAR = 2013
_YEAR = re.compile(r"\d{4}", re.ASCII)


def selectable_school_years() -> list[int]:
    """The school years one may ask for, the most recent first (next year's programme included)."""
    return list(range(current_school_year() + 1, FIRST_SCHOOL_YEAR - 1, -1))


def parse_period(
    year: str | None = None, first: str | None = None, last: str | None = None
) -> Period:
    """The period asked for by `?annee=2025` or `?du=2026-01-01&au=2026-03-31` (the dates win);
    the current school year when nothing is asked. Raises PeriodError with a French message."""
    year, first, last = (value.strip() if value else "" for value in (year, first, last))
    if first or last:
        return read_period(first, last)
    if year:
        return _school_year(year)
    return Period.of_school_year(current_school_year())


def _school_year(text: str) -> Period:
    years = selectable_school_years()
    latest, earliest = years[0], years[-1]
    if not _YEAR.fullmatch(text) or not earliest <= int(text) <= latest:
        raise PeriodError(
            f"L'année scolaire « {shown_back(text)} » n'est pas reconnue : indiquez l'année de la "
            f"rentrée, de {earliest} à {latest} (par exemple {latest - 1} pour "
            f"{school_year_label(latest - 1)})."
        )
    return Period.of_school_year(int(text))


# --- the figures and their definitions ----------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """One figure: its key, its French label and definition, how its value reads."""

    key: str
    label: str
    #: "count", "rate" (a fraction shown as a percentage), "hours", "mean" (out of 5), or
    #: "distribution" (a count per category, each with its share of the total).
    kind: str
    #: The section it belongs to on the page.
    group: str
    definition: str
    #: For a distribution: its categories, (value, French title), in order.
    categories: tuple[tuple[str, str], ...] = ()


DIRECT = "direct"
SOURCE_CATEGORIES = (*((s.value, s.title) for s in Source), (DIRECT, "Accès direct"))
LEVEL_FIT_CATEGORIES = tuple((f.value, f.title) for f in LevelFit)
WILL_USE_CATEGORIES = tuple((w.value, w.title) for w in WillUse)

WORKSHOPS, REGISTRATIONS, ATTENDANCE, REACH, QUESTIONNAIRE = (
    "Ateliers",
    "Inscriptions",
    "Présence",
    "Public touché",
    "Questionnaire",
)

#: Every figure, in the order the page, the report and the CSV give them.
FIGURES: tuple[Figure, ...] = (
    Figure(
        "held",
        "Ateliers tenus",
        "count",
        WORKSHOPS,
        definition="Ateliers publiés qui commencent dans la période (heure de Paris) et qui ont "
        "eu lieu : terminés au moment du calcul, non annulés. Tous les chiffres qui suivent "
        "portent sur ces ateliers, sauf les ateliers annulés et à venir.",
    ),
    Figure(
        "cancelled",
        "Ateliers annulés",
        "count",
        WORKSHOPS,
        definition="Ateliers de la période annulés, quelle que soit la date de l'annulation.",
    ),
    Figure(
        "planned",
        "Ateliers à venir",
        "count",
        WORKSHOPS,
        definition="Ateliers publiés de la période qui ne sont pas encore terminés au moment du "
        "calcul : ils ne comptent dans aucun autre chiffre.",
    ),
    Figure(
        "seats",
        "Places offertes",
        "count",
        WORKSHOPS,
        definition="Somme des capacités des ateliers tenus.",
    ),
    Figure(
        "hours_held",
        "Heures d'ateliers tenus",
        "hours",
        WORKSHOPS,
        definition="Somme des durées des ateliers tenus.",
    ),
    Figure(
        "registrations",
        "Inscriptions",
        "count",
        REGISTRATIONS,
        definition="Toutes les inscriptions aux ateliers tenus, quoi qu'elles soient devenues "
        "(confirmées, en liste d'attente, annulées), hors personnes venues sans inscription.",
    ),
    Figure(
        "walk_ins",
        "Venues sans inscription",
        "count",
        REGISTRATIONS,
        definition="Personnes ajoutées sur place par le formateur ou la formatrice.",
    ),
    Figure(
        "confirmed",
        "Inscriptions confirmées",
        "count",
        REGISTRATIONS,
        definition="Inscriptions qui avaient une place à la fin (ni annulées, ni en attente).",
    ),
    Figure(
        "fill_rate",
        "Taux de remplissage",
        "rate",
        REGISTRATIONS,
        definition="Inscriptions confirmées ÷ places offertes.",
    ),
    Figure(
        "waiting_at_start",
        "En liste d'attente au début",
        "count",
        REGISTRATIONS,
        definition="Personnes encore en liste d'attente au début de l'atelier (il n'y a plus de "
        "promotion automatique dans les deux heures qui précèdent), y compris celles que le "
        "formateur a accueillies à la porte.",
    ),
    Figure(
        "waiting_pressure",
        "Pression de la liste d'attente",
        "rate",
        REGISTRATIONS,
        definition="Personnes en liste d'attente au début ÷ places offertes.",
    ),
    Figure(
        "waitlisted_workshops",
        "Ateliers avec liste d'attente",
        "count",
        REGISTRATIONS,
        definition="Ateliers tenus où au moins une personne a été mise en liste d'attente : "
        "encore en attente au début, promue ensuite sur une place libérée, ou partie avant "
        "d'avoir eu une place.",
    ),
    Figure(
        "sources",
        "Origine des inscriptions",
        "distribution",
        REGISTRATIONS,
        categories=SOURCE_CATEGORIES,
        definition="Lien suivi pour s'inscrire : liste de diffusion (programme envoyé par "
        "courriel), affiche (code QR), ENT, ou accès direct (lien sans marque d'origine) ; "
        "nombre d'inscriptions et part du total des inscriptions.",
    ),
    Figure(
        "closed_sessions",
        "Séances closes",
        "count",
        ATTENDANCE,
        definition="Ateliers tenus dont le formateur a pris les présences et clos la séance. "
        "Les taux de présence et d'absence ne portent que sur ces séances.",
    ),
    Figure(
        "closed_confirmed",
        "Inscrits confirmés des séances closes",
        "count",
        ATTENDANCE,
        definition="Inscriptions confirmées aux séances closes : la base des deux taux suivants.",
    ),
    Figure(
        "attendance_rate",
        "Taux de présence",
        "rate",
        ATTENDANCE,
        definition="Inscrits confirmés des séances closes marqués présents ÷ inscrits confirmés "
        "des séances closes.",
    ),
    Figure(
        "no_show_rate",
        "Taux d'absence",
        "rate",
        ATTENDANCE,
        definition="Inscrits confirmés des séances closes marqués absents ÷ inscrits confirmés "
        "des séances closes (à la clôture, une personne inscrite non pointée est marquée "
        "absente).",
    ),
    Figure(
        "attendees",
        "Participations",
        "count",
        REACH,
        definition="Personnes marquées présentes aux ateliers tenus, une fois par atelier : "
        "inscrites, accueillies depuis la liste d'attente ou venues sans inscription.",
    ),
    Figure(
        "teachers",
        "Enseignants touchés",
        "count",
        REACH,
        definition="« Touché » veut dire venu au moins une fois : adresses électroniques "
        "distinctes des personnes marquées présentes à un atelier tenu. Une personne venue à "
        "plusieurs ateliers compte une fois ; dans une ventilation, elle compte dans chaque "
        "ligne où elle est venue, si bien que les lignes ne s'additionnent pas.",
    ),
    Figure(
        "schools",
        "Écoles touchées",
        "count",
        REACH,
        definition="Écoles distinctes des personnes présentes : par code UAI quand il a été "
        "donné, sinon par le nom de l'école (sans accents, majuscules, ponctuation ni espaces "
        "en trop). Comme pour les enseignants, les lignes ne s'additionnent pas.",
    ),
    Figure(
        "hours_delivered",
        "Heures de formation délivrées",
        "hours",
        REACH,
        definition="Somme, sur les participations, de la durée de l'atelier : les heures que "
        "les attestations de présence prouvent.",
    ),
    Figure(
        "answers",
        "Réponses au questionnaire",
        "count",
        QUESTIONNAIRE,
        definition="Questionnaires remplis après les ateliers tenus.",
    ),
    Figure(
        "usefulness_mean",
        "Utilité moyenne",
        "mean",
        QUESTIONNAIRE,
        definition="Moyenne des notes d'utilité données, de 1 (pas utile) à 5 (très utile).",
    ),
    Figure(
        "level_fit",
        "Niveau ressenti",
        "distribution",
        QUESTIONNAIRE,
        categories=LEVEL_FIT_CATEGORIES,
        definition="Réponses à « le niveau de l'atelier était… » : nombre et part des réponses.",
    ),
    Figure(
        "will_use",
        "Réutilisation en classe",
        "distribution",
        QUESTIONNAIRE,
        categories=WILL_USE_CATEGORIES,
        definition="Réponses à « utiliserez-vous ce que vous avez appris en classe ? » : "
        "nombre et part des réponses.",
    ),
)
FIGURES_BY_KEY = {figure.key: figure for figure in FIGURES}
#: The figures at the top of the page and of the report.
KEY_FIGURES = (
    "held",
    "cancelled",
    "seats",
    "registrations",
    "fill_rate",
    "attendance_rate",
    "teachers",
    "schools",
    "hours_delivered",
    "usefulness_mean",
)
GROUPS = tuple(dict.fromkeys(figure.group for figure in FIGURES))
#: A rate or mean that cannot be computed (nothing to divide by) reads as this.
NOT_APPLICABLE = "—"


# --- lines of figures -----------------------------------------------------------------------------


@dataclass
class WorkshopFacts:
    """What one workshop of the period contributes to the lines it belongs to."""

    id: int
    site_id: int
    level: Level
    topic_id: int
    topic_name: str
    status: WorkshopStatus
    held: bool
    capacity: int
    minutes: int
    closed: bool
    by_status: Counter = field(default_factory=Counter)
    sources: Counter = field(default_factory=Counter)
    waitlisted: bool = False
    #: Presence marks of confirmed registrations (counted for closed sessions only).
    confirmed_marks: Counter = field(default_factory=Counter)
    attendees: int = 0
    teachers: set[str] = field(default_factory=set)
    schools: set[str] = field(default_factory=set)
    answers: int = 0
    usefulness_total: int = 0
    level_fit: Counter = field(default_factory=Counter)
    will_use: Counter = field(default_factory=Counter)


@dataclass
class Line:
    """The figures of one line: everything, or one site, level or topic."""

    label: str
    held: int = 0
    cancelled: int = 0
    planned: int = 0
    seats: int = 0
    minutes_held: int = 0
    registrations: int = 0
    walk_ins: int = 0
    confirmed: int = 0
    waiting_at_start: int = 0
    waitlisted_workshops: int = 0
    sources: Counter = field(default_factory=Counter)
    closed_sessions: int = 0
    closed_confirmed: int = 0
    closed_present: int = 0
    closed_absent: int = 0
    attendees: int = 0
    minutes_delivered: int = 0
    teacher_emails: set[str] = field(default_factory=set)
    school_keys: set[str] = field(default_factory=set)
    answers: int = 0
    usefulness_total: int = 0
    level_fit: Counter = field(default_factory=Counter)
    will_use: Counter = field(default_factory=Counter)

    def add(self, w: WorkshopFacts) -> None:
        if w.status is WorkshopStatus.cancelled:
            self.cancelled += 1
            return
        if not w.held:
            self.planned += 1
            return
        self.held += 1
        self.seats += w.capacity
        self.minutes_held += w.minutes
        self.walk_ins += w.by_status[RegistrationStatus.walk_in]
        self.registrations += w.by_status.total() - w.by_status[RegistrationStatus.walk_in]
        self.confirmed += w.by_status[RegistrationStatus.confirmed]
        self.waiting_at_start += w.by_status[RegistrationStatus.waiting]
        self.waitlisted_workshops += w.waitlisted
        self.sources.update(w.sources)
        if w.closed:
            self.closed_sessions += 1
            self.closed_confirmed += w.by_status[RegistrationStatus.confirmed]
            self.closed_present += w.confirmed_marks[Presence.present]
            self.closed_absent += w.confirmed_marks[Presence.absent]
        self.attendees += w.attendees
        self.minutes_delivered += w.attendees * w.minutes
        self.teacher_emails |= w.teachers
        self.school_keys |= w.schools
        self.answers += w.answers
        self.usefulness_total += w.usefulness_total
        self.level_fit.update(w.level_fit)
        self.will_use.update(w.will_use)

    # The figures of FIGURES that are not plain counters above.

    @property
    def hours_held(self) -> float:
        return self.minutes_held / 60

    @property
    def hours_delivered(self) -> float:
        return self.minutes_delivered / 60

    @property
    def fill_rate(self) -> float | None:
        return _ratio(self.confirmed, self.seats)

    @property
    def waiting_pressure(self) -> float | None:
        return _ratio(self.waiting_at_start, self.seats)

    @property
    def attendance_rate(self) -> float | None:
        return _ratio(self.closed_present, self.closed_confirmed)

    @property
    def no_show_rate(self) -> float | None:
        return _ratio(self.closed_absent, self.closed_confirmed)

    @property
    def teachers(self) -> int:
        return len(self.teacher_emails)

    @property
    def schools(self) -> int:
        return len(self.school_keys)

    @property
    def usefulness_mean(self) -> float | None:
        return _ratio(self.usefulness_total, self.answers)

    def value(self, key: str):
        """The value of the figure `key`: a number, None when it cannot be computed, or for a
        distribution a dict {category: count} in the figure's order."""
        figure = FIGURES_BY_KEY[key]
        value = getattr(self, key)
        if figure.kind == "distribution":
            return {category: value[category] for category, _ in figure.categories}
        return value

    def share(self, key: str, category: str) -> float | None:
        """A distribution category's share of its total."""
        counts = self.value(key)
        return _ratio(counts[category], sum(counts.values()))

    def text(self, key: str) -> str:
        """The figure as the page reads it: '84,6 %'."""
        return display(FIGURES_BY_KEY[key], self.value(key))

    def category_text(self, key: str, category: str) -> str:
        """A distribution's category as the page reads it: '6 (37,5 %)'."""
        count = self.value(key)[category]
        share = self.share(key, category)
        return f"{_count(count)} ({_percent(share)})" if share is not None else _count(count)


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass
class Breakdown:
    """The lines of one dimension: sites, levels or topics."""

    key: str
    #: "Site", "Niveau", "Thème": the column's heading.
    dimension: str
    #: "par site"…
    title: str
    lines: list[Line]


@dataclass
class Report:
    period: Period
    #: When the figures were computed: "held" means ended before this moment.
    computed_at: datetime
    overall: Line
    breakdowns: list[Breakdown]


def report(period: Period) -> Report:
    """Every figure of the period, overall and by site, level and topic (six queries)."""
    moment = now()
    workshops = _workshop_facts(period, moment)
    held = _held_ids(period, moment)
    _add_registrations(workshops, held)
    _add_confirmed_marks(workshops, held)
    _add_attendees(workshops, held)
    _add_answers(workshops, held)
    sites = _site_names()

    overall = Line("Ensemble")
    by_site = {site_id: Line(name) for site_id, name in sites}
    by_level = {level: Line(level.title) for level in Level}
    by_topic: dict[int, Line] = {}
    for w in workshops.values():
        overall.add(w)
        by_site[w.site_id].add(w)
        by_level[w.level].add(w)
        by_topic.setdefault(w.topic_id, Line(w.topic_name)).add(w)
    return Report(
        period=period,
        computed_at=moment,
        overall=overall,
        breakdowns=[
            Breakdown("site", "Site", "par site", _sorted(by_site.values())),
            Breakdown("level", "Niveau", "par niveau", list(by_level.values())),
            Breakdown("topic", "Thème", "par thème", _sorted(by_topic.values())),
        ],
    )


def _sorted(lines: Iterable[Line]) -> list[Line]:
    """Alphabetical as a French reader expects it, the same on every database."""
    return sorted(lines, key=lambda line: (folded(line.label), line.label))


# --- queries ----------------------------------------------------------------------------------


def _in_period(period: Period):
    return sa.and_(Workshop.starts_at >= period.starts_at, Workshop.starts_at < period.ends_at)


def _held_ids(period: Period, moment: datetime) -> sa.Select:
    """The held workshops of the period, as a subquery of ids."""
    return sa.select(Workshop.id).where(
        _in_period(period),
        Workshop.status == WorkshopStatus.published,
        Workshop.ends_at <= moment,
    )


def _workshop_facts(period: Period, moment: datetime) -> dict[int, WorkshopFacts]:
    """One row per published or cancelled workshop of the period (drafts never happened)."""
    rows = db.session.execute(
        sa.select(
            Workshop.id,
            Room.site_id,
            Workshop.level,
            Workshop.topic_id,
            Topic.name,
            Workshop.status,
            Workshop.starts_at,
            Workshop.ends_at,
            Workshop.capacity,
            SessionClosure.workshop_id,
        )
        .join(Room, Room.id == Workshop.room_id)
        .join(Topic, Topic.id == Workshop.topic_id)
        .outerjoin(SessionClosure, SessionClosure.workshop_id == Workshop.id)
        .where(
            _in_period(period),
            Workshop.status.in_([WorkshopStatus.published, WorkshopStatus.cancelled]),
        )
    )
    facts = {}
    for (
        id_,
        site_id,
        level,
        topic_id,
        topic_name,
        status,
        starts_at,
        ends_at,
        capacity,
        closure,
    ) in rows:
        facts[id_] = WorkshopFacts(
            id=id_,
            site_id=site_id,
            level=level,
            topic_id=topic_id,
            topic_name=topic_name,
            status=status,
            held=status is WorkshopStatus.published and ends_at <= moment,
            capacity=capacity,
            minutes=int((ends_at - starts_at).total_seconds() // 60),
            closed=closure is not None,
        )
    return facts


def _add_registrations(workshops: dict[int, WorkshopFacts], held: sa.Select) -> None:
    """Registrations counted by status and source; whether each workshop had a waiting list.

    Someone was on the waiting list if they still are, if they left it without ever having had
    a seat (cancelled, never confirmed), or if their seat came later than their registration (a
    promotion: a seat given at once is dated before the registration row is written).
    """
    never_confirmed = Registration.confirmed_at.is_(None)
    confirmed_later = Registration.confirmed_at > Registration.created_at
    rows = db.session.execute(
        sa.select(
            Registration.workshop_id,
            Registration.status,
            Registration.source,
            never_confirmed,
            confirmed_later,
            sa.func.count(),
        )
        .where(Registration.workshop_id.in_(held))
        .group_by(
            Registration.workshop_id,
            Registration.status,
            Registration.source,
            never_confirmed,
            confirmed_later,
        )
    )
    for workshop_id, status, source, unconfirmed, promoted, count in rows:
        w = workshops[workshop_id]
        w.by_status[status] += count
        if status is not RegistrationStatus.walk_in:
            w.sources[source.value if source else DIRECT] += count
        left_waiting = status is RegistrationStatus.cancelled and unconfirmed
        if status is RegistrationStatus.waiting or left_waiting or promoted:
            w.waitlisted = True


def _add_confirmed_marks(workshops: dict[int, WorkshopFacts], held: sa.Select) -> None:
    rows = db.session.execute(
        sa.select(Attendance.workshop_id, Attendance.presence, sa.func.count())
        .join(Registration, Registration.id == Attendance.registration_id)
        .where(
            Attendance.workshop_id.in_(held),
            Registration.status == RegistrationStatus.confirmed,
        )
        .group_by(Attendance.workshop_id, Attendance.presence)
    )
    for workshop_id, presence, count in rows:
        workshops[workshop_id].confirmed_marks[presence] += count


def _add_attendees(workshops: dict[int, WorkshopFacts], held: sa.Select) -> None:
    """The people marked present, one row each: counted, and their addresses and schools kept
    for the distinct counts (a school's name is compared once normalised, which SQL cannot do
    the same way on SQLite and PostgreSQL)."""
    rows = db.session.execute(
        sa.select(Attendance.workshop_id, Registration.email, Registration.uai, Registration.school)
        .join(Registration, Registration.id == Attendance.registration_id)
        .where(
            Attendance.workshop_id.in_(held),
            Attendance.presence == Presence.present,
            Registration.status != RegistrationStatus.cancelled,
        )
    )
    for workshop_id, email, uai, school in rows:
        w = workshops[workshop_id]
        w.attendees += 1
        w.teachers.add(email.strip().lower())
        w.schools.add(school_key(uai, school))


def _add_answers(workshops: dict[int, WorkshopFacts], held: sa.Select) -> None:
    rows = db.session.execute(
        sa.select(
            QuestionnaireAnswer.workshop_id,
            QuestionnaireAnswer.usefulness,
            QuestionnaireAnswer.level_fit,
            QuestionnaireAnswer.will_use,
            sa.func.count(),
        )
        .where(QuestionnaireAnswer.workshop_id.in_(held))
        .group_by(
            QuestionnaireAnswer.workshop_id,
            QuestionnaireAnswer.usefulness,
            QuestionnaireAnswer.level_fit,
            QuestionnaireAnswer.will_use,
        )
    )
    for workshop_id, usefulness, level_fit, will_use, count in rows:
        w = workshops[workshop_id]
        w.answers += count
        w.usefulness_total += usefulness * count
        w.level_fit[level_fit.value] += count
        w.will_use[will_use.value] += count


def _site_names() -> list[tuple[int, str]]:
    """Every site, so that one without any workshop in the period shows its zeros."""
    return list(db.session.execute(sa.select(Site.id, Site.name)))


def school_key(uai: str | None, school: str) -> str:
    """What identifies a school: its UAI code when given, else its normalised name."""
    if uai and uai.strip():
        return "uai:" + uai.strip().upper()
    words = re.sub(r"[^0-9a-z]+", " ", folded(school)).split()
    return "nom:" + " ".join(words)


# --- reading the values --------------------------------------------------------------------------


def display(figure: Figure, value) -> str:
    """A value as a French reader reads it: '1 234', '84,6 %', '24 h', '3,6 / 5', '—'."""
    if value is None:
        return NOT_APPLICABLE
    if figure.kind == "rate":
        return _percent(value)
    if figure.kind == "hours":
        return f"{_decimal(value, 1, drop_zero=True)}\u00a0h"
    if figure.kind == "mean":
        return f"{_decimal(value, 1)}\u00a0/\u00a05"
    return _count(value)


def _count(value: int) -> str:
    return format_decimal(value, "#,##0", locale=LOCALE)


def _percent(fraction: float) -> str:
    return f"{_decimal(fraction * 100, 1, drop_zero=True)}\u00a0%"


def spreadsheet_number(kind: str, value) -> str:
    """A value of a figure of this kind for a French spreadsheet: decimal comma, no thousands
    separator, rates (and shares) in percent; empty when it cannot be computed."""
    if value is None:
        return ""
    if kind == "count":
        return str(value)
    if kind == "rate":
        return _decimal(value * 100, 1, grouping=False, drop_zero=True)
    return _decimal(value, 2, grouping=False, drop_zero=True)


def unit(figure: Figure) -> str:
    return {"count": "nombre", "rate": "%", "hours": "heures", "mean": "sur 5"}[figure.kind]


def _decimal(value: float, places: int, *, grouping: bool = True, drop_zero: bool = False) -> str:
    """Rounded half up, as people round (18,75 gives 18,8), in French; `drop_zero` writes
    100 rather than 100,0."""
    rounded = Decimal(repr(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    integer = "#,##0" if grouping else "0"
    fraction = ("#" if drop_zero else "0") * places
    return format_decimal(rounded, f"{integer}.{fraction}", locale=LOCALE)
