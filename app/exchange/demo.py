"""Demo data for the exchange half-day (`flask seed-demo`, after the catalogue's): this school
year's half-day at Amiens, in the auditorium and two side rooms, on a suggested Wednesday
afternoon, its call open, and proposals in various states."""

from datetime import datetime, time, timedelta

import sqlalchemy as sa

from app.catalog.models import Level, Room, Site, Topic
from app.clock import now
from app.exchange.dates import suggest_dates
from app.exchange.models import (
    Contribution,
    ContributionFormat,
    ContributionStatus,
    Equipment,
    HalfDay,
    HalfDayRoom,
    HalfDayState,
)
from app.extensions import db
from app.formatting import PARIS, school_year_label, school_year_of

#: (name, seats created with when missing, equipment that day, is the auditorium)
ROOMS = [
    ("Auditorium", 120, {Equipment.videoconference, Equipment.projector}, True),
    ("Salle Saint-Leu", 30, {Equipment.tablets, Equipment.projector}, False),
    ("Salle Jules Verne", 24, {Equipment.whiteboard, Equipment.projector}, False),
]
#: The call stays open this long before the half-day, and the date is at least this far ahead.
DEADLINE_BEFORE = timedelta(weeks=3)
LEAD_TIME = timedelta(weeks=6)

_T, _D, _W, _R = (
    ContributionFormat.testimony,
    ContributionFormat.demonstration,
    ContributionFormat.workshop,
    ContributionFormat.round_table,
)
_A, _S, _X = ContributionStatus.accepted, ContributionStatus.submitted, ContributionStatus.declined
_B, _E = Level.beginner, Level.expert

#: (presenters, e-mail, organisation, title, summary, format, topic slug, level, needs,
#:  available from, available until, status)
PROPOSALS = [
    (
        "Nathalie Caron",
        "nathalie.caron@ac-amiens.fr",
        "École élémentaire Jules Ferry, Amiens",
        "Le cahier de textes de l'ENT, un an après",
        "Comment une équipe de cycle 3 a remplacé le cahier papier par celui de l'ENT : ce qui a "
        "marché, ce que les familles en disent, les pièges à éviter.",
        _T,
        "ent",
        _B,
        set(),
        None,
        None,
        _A,
    ),
    (
        "Thomas Delattre\nAmélie Roussel",
        "thomas.delattre@ac-amiens.fr",
        "École de Rivery",
        "Un blog de classe sur l'ENT pour raconter les sorties",
        "Démonstration pas à pas : publier avec les élèves, modérer les commentaires, régler les "
        "droits des familles.",
        _D,
        "ent",
        _E,
        {Equipment.projector},
        None,
        None,
        _A,
    ),
    (
        "Sophie Lefèvre",
        "sophie.lefevre@ac-amiens.fr",
        "CRDP de l'académie d'Amiens",
        "Premiers pas au TBI en maternelle",
        "Des activités de tri et de repérage pour les petits, et l'organisation de la classe "
        "autour du tableau.",
        _D,
        "tbi",
        _B,
        {Equipment.whiteboard},
        None,
        None,
        _A,
    ),
    (
        "Julien Moreau",
        "julien.moreau@ac-amiens.fr",
        "École du Centre, Abbeville",
        "Des exercices interactifs au TBI pour le calcul mental",
        "Atelier : construire une banque d'exercices réutilisables et suivre les progrès de la "
        "classe.",
        _W,
        "tbi",
        _E,
        {Equipment.whiteboard},
        time(14, 0),
        None,
        _A,
    ),
    (
        "Claire Dumont\nKarim Benali",
        "claire.dumont@ac-amiens.fr",
        "CRDP de l'académie d'Amiens",
        "Tablettes en classe : gérer une flotte de quinze appareils",
        "Atelier pratique : déployer des applications, partager les productions, ranger et "
        "recharger sans y passer la récréation.",
        _W,
        "tablettes",
        _B,
        {Equipment.tablets},
        None,
        None,
        _A,
    ),
    (
        "Hélène Dufour",
        "helene.dufour@ac-amiens.fr",
        "École Saint-Exupéry, Péronne",
        "Des récits numériques réalisés par les élèves de CM2",
        "Témoignage : un livre numérique illustré et sonorisé par la classe, de l'écriture à la "
        "publication sur l'ENT.",
        _T,
        "tablettes",
        _E,
        {Equipment.tablets},
        None,
        time(16, 0),
        _A,
    ),
    (
        "Marc Lenoir\nÉquipe de circonscription d'Amiens 2",
        "marc.lenoir@ac-amiens.fr",
        "Circonscription d'Amiens 2",
        "Les ressources numériques de l'ENT : lesquelles, pour quoi faire ?",
        "Table ronde avec des enseignants et Somme Numérique sur le choix des ressources, en temps "
        "scolaire et hors temps scolaire.",
        _R,
        "ressources-numeriques",
        _B,
        {Equipment.videoconference},
        None,
        None,
        _S,
    ),
    (
        "Pauline Vasseur",
        "pauline.vasseur@ac-amiens.fr",
        "École de Longueau",
        "Un logiciel de géométrie dynamique en CE2",
        "Démonstration d'un logiciel installé sur les postes de l'école.",
        _D,
        "ressources-numeriques",
        _E,
        set(),
        None,
        None,
        _X,
    ),
]
DECLINED_MESSAGE = (
    "Merci pour votre proposition. Le thème de cette année porte sur les outils de l'ENT et les "
    "ressources qu'il met à disposition : nous serions heureux de vous entendre l'an prochain."
)


def seed_demo_half_day() -> HalfDay | None:
    """Create the demo half-day unless one exists for its school year or the Amiens site is
    missing; returns it when created."""
    site = db.session.scalar(sa.select(Site).where(Site.slug == "amiens"))
    day = _demo_day()
    if site is None or day is None:
        return None
    year = school_year_of(day)
    if db.session.scalar(sa.select(sa.exists().where(HalfDay.school_year == year))):
        return None
    half_day = HalfDay(
        school_year=year,
        title=f"Rencontres TICE {school_year_label(year)}",
        starts_at=datetime.combine(day, time(13, 30), PARIS),
        ends_at=datetime.combine(day, time(17, 0), PARIS),
        deadline=datetime.combine(day - DEADLINE_BEFORE, time(18, 0), PARIS),
        state=HalfDayState.call_open,
        site=site,
        capacity=0,
        videoconference_url="https://visio.ac-amiens.fr/rencontres-tice",
        description=(
            "Une demi-journée d'échanges entre enseignants, formateurs du CRDP, Somme Numérique "
            "et services de l'Éducation nationale sur les ressources, les pratiques et les "
            "expériences numériques dans les écoles de la Somme."
        ),
    )
    half_day.rooms = _rooms(site)
    half_day.capacity = half_day.auditorium.room.capacity
    db.session.add(half_day)
    _proposals(half_day)
    db.session.commit()
    return half_day


def _demo_day():
    """A suggested Wednesday at least six weeks ahead: this school year's if one is left, else
    next year's; dates the holiday data vouches for first."""
    today = now().astimezone(PARIS).date()
    for year in (school_year_of(today), school_year_of(today) + 1):
        found = [s for s in suggest_dates(year) if s.day >= today + LEAD_TIME]
        found.sort(key=lambda s: (s.uncertain, not s.preferred, s.day))
        if found:
            return found[0].day
    return None


def _rooms(site: Site) -> list[HalfDayRoom]:
    existing = {room.name: room for room in site.rooms}
    rooms = []
    for position, (name, seats, equipment, is_auditorium) in enumerate(ROOMS):
        room = existing.get(name) or Room(
            site=site,
            name=name,
            capacity=seats,
            videoconference=Equipment.videoconference in equipment,
        )
        rooms.append(
            HalfDayRoom(
                room=room, is_auditorium=is_auditorium, equipment=equipment, position=position
            )
        )
    return rooms


def _proposals(half_day: HalfDay) -> None:
    topics = {topic.slug: topic for topic in db.session.scalars(sa.select(Topic))}
    moment = now()
    for (
        presenters,
        email,
        organisation,
        title,
        summary,
        kind,
        topic,
        level,
        needs,
        available_from,
        available_until,
        status,
    ) in PROPOSALS:
        if topic not in topics:
            continue
        contribution = Contribution(
            half_day=half_day,
            presenters=presenters,
            email=email,
            organisation=organisation,
            title=title,
            summary=summary,
            format=kind,
            topic=topics[topic],
            level=level,
            available_from=available_from,
            available_until=available_until,
            status=status,
        )
        contribution.needs = needs
        if status is not ContributionStatus.submitted:
            contribution.reviewed_at = moment
            contribution.review_message = (
                DECLINED_MESSAGE
                if status is ContributionStatus.declined
                else "Merci, votre proposition est retenue : l'agenda vous dira où et quand."
            )
        db.session.add(contribution)
