"""Demo data for `make run` and for trying the service: the agreement's three sites, their rooms,
trainers, topics, and a term of workshops from next week on, outside zone-B school holidays and
public holidays."""

from datetime import datetime, time, timedelta
from itertools import cycle

import sqlalchemy as sa

from app.catalog.holidays import is_school_day_off
from app.catalog.models import Level, Room, Site, Topic, Trainer, Workshop, WorkshopStatus
from app.clock import now
from app.extensions import db
from app.formatting import PARIS

# The demo's tables stay aligned as tables.
# fmt: off
SITES = [
    ("amiens", "Amiens", "45 rue Saint-Leu", "80026", "Amiens", 49.8967, 2.3005,
     [("Auditorium", 80, True, True), ("Salle multimédia 1", 16, True, True),
      ("Salle multimédia 2", 12, False, True)]),
    ("abbeville", "Abbeville", "2 rue du Lillier", "80100", "Abbeville", 50.1054, 1.8339,
     [("Salle informatique", 14, True, True), ("Salle de réunion", 20, False, False)]),
    ("peronne", "Péronne", "9 rue Saint-Sauveur", "80200", "Péronne", 49.9316, 2.9333,
     [("Salle TICE", 12, True, True)]),
]

TOPICS = [
    ("ent", "ENT", "L'espace numérique de travail des écoles de la Somme."),
    ("tbi", "TBI", "Le tableau blanc interactif en classe."),
    ("tablettes", "Tablettes", "Les tablettes numériques et leurs applications pédagogiques."),
    ("ressources-numeriques", "Ressources numériques",
     "Les ressources numériques de l'ENT et leur usage, en temps scolaire et hors temps scolaire."),
]

TRAINERS = [
    ("Claire", "Dumont", "claire.dumont@ac-amiens.fr"),
    ("Karim", "Benali", "karim.benali@ac-amiens.fr"),
    ("Sophie", "Lefèvre", "sophie.lefevre@ac-amiens.fr"),
    ("Jean-Marc", "Vasseur", "jean-marc.vasseur@ac-amiens.fr"),
]

#: (title, topic slug, level, what to bring, description)
PROGRAMME = [
    ("Premiers pas dans l'ENT de l'école", "ent", Level.beginner, "Vos identifiants ENT",
     "Se connecter, publier une actualité pour les familles, utiliser le cahier de textes."),
    ("L'ENT au service de la liaison école-familles", "ent", Level.expert, "Vos identifiants ENT",
     "Blogs de classe, espaces de partage, messagerie : organiser la communication avec les familles."),
    ("Démarrer avec le tableau blanc interactif", "tbi", Level.beginner, "",
     "Calibrer le TBI, utiliser le logiciel, préparer une première séance interactive."),
    ("Créer des séquences interactives au TBI", "tbi", Level.expert, "Une clé USB avec vos supports",
     "Concevoir des activités de manipulation et d'évaluation pour le cycle 3."),
    ("Tablettes en classe : prise en main", "tablettes", Level.beginner, "Une tablette si vous en avez une",
     "Gérer une flotte de tablettes, choisir des applications pédagogiques, organiser la classe."),
    ("Tablettes : produire des récits numériques", "tablettes", Level.expert, "Votre tablette chargée",
     "Livres numériques, capsules audio et vidéo réalisés par les élèves."),
    ("Les ressources numériques de l'ENT", "ressources-numeriques", Level.beginner, "",
     "Trouver, sélectionner et utiliser les ressources mises à disposition dans l'ENT."),
    ("Ressources numériques et différenciation", "ressources-numeriques", Level.expert, "",
     "Construire des parcours différenciés avec les ressources en ligne, en classe et hors temps scolaire."),
]

#: (weekday, start, end): Wednesday morning and afternoon, after school on Tuesday and Thursday.
SLOTS = [(2, time(9, 0), time(12, 0)), (2, time(14, 0), time(17, 0)),
         (1, time(17, 0), time(19, 0)), (3, time(17, 0), time(19, 0))]

# fmt: on
TERM_WEEKS = 14


def seed_demo() -> Workshop | None:
    """Create the demo data unless the catalogue already has sites; when it created it, the
    session held today (for booking's demo to register teachers on)."""
    if db.session.scalar(sa.select(sa.func.count()).select_from(Site)):
        return None
    sites = _create_sites()
    topics = {slug: Topic(slug=slug, name=name, description=d) for slug, name, d in TOPICS}
    trainers = [Trainer(first_name=f, last_name=n, email=e) for f, n, e in TRAINERS]
    db.session.add_all([*topics.values(), *trainers])
    _create_term(sites, topics, trainers)
    today = _create_session_today(sites[0], topics, trainers[0])
    db.session.commit()
    return today


def _create_session_today(site: Site, topics, trainer: Trainer) -> Workshop:
    """A session of the first trainer starting at the current hour: what the trainer's space
    and the tablet check-in are for, on the day (booking's demo registers teachers on it)."""
    local = now().astimezone(PARIS)
    starts_at = local.replace(minute=0, second=0, microsecond=0)
    room = next(r for r in site.rooms if r.name != "Auditorium")
    workshop = Workshop(
        title="Séance du jour : le TBI en classe (démonstration du pointage)",
        description="Une séance de démonstration, aujourd'hui, pour essayer le pointage sur tablette.",
        topic=topics["tbi"],
        level=Level.beginner,
        room=room,
        trainer=trainer,
        capacity=min(room.capacity, 12),
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=2),
        registration_deadline=starts_at - timedelta(hours=1),
        status=WorkshopStatus.published,
    )
    db.session.add(workshop)
    return workshop


def _create_sites() -> list[Site]:
    sites = []
    for slug, name, street, postcode, city, lat, lon, rooms in SITES:
        site = Site(
            slug=slug,
            name=name,
            street=street,
            postcode=postcode,
            city=city,
            latitude=lat,
            longitude=lon,
        )
        site.rooms = [
            Room(name=r, capacity=c, videoconference=v, step_free=s) for r, c, v, s in rooms
        ]
        sites.append(site)
    db.session.add_all(sites)
    return sites


def _create_term(sites, topics, trainers) -> None:
    """One workshop per slot and week, rotating programme, sites, rooms and trainers."""
    today = now().astimezone(PARIS).date()
    monday = today + timedelta(days=7 - today.weekday())
    programme, site_cycle, trainer_cycle = cycle(PROGRAMME), cycle(sites), cycle(trainers)
    for week in range(TERM_WEEKS):
        for weekday, start, end in SLOTS:
            day = monday + timedelta(weeks=week, days=weekday)
            if is_school_day_off(day):
                continue
            title, topic, level, bring, description = next(programme)
            site = next(site_cycle)
            room = min((r for r in site.rooms if r.name != "Auditorium"), key=lambda r: r.capacity)
            starts_at = datetime.combine(day, start, PARIS)
            db.session.add(
                Workshop(
                    title=title,
                    description=description,
                    topic=topics[topic],
                    level=level,
                    room=room,
                    trainer=next(trainer_cycle),
                    capacity=min(room.capacity, 12),
                    starts_at=starts_at,
                    ends_at=datetime.combine(day, end, PARIS),
                    registration_deadline=starts_at - timedelta(days=1),
                    status=WorkshopStatus.published,
                    what_to_bring=bring,
                )
            )
