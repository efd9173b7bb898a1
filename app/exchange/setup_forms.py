"""The half-day's settings form and the call's buttons. The form parses; the rules (hours, rooms,
capacity, dates) live in `exchange.setup` (`checks`), whose problems come back onto the fields here."""

from datetime import datetime

from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from app.catalog.models import Room, Site
from app.exchange.models import Equipment, HalfDay
from app.exchange.services import local_day, local_time
from app.exchange.setup.settings import (
    DEFAULT_END,
    DEFAULT_START,
    Problem,
    RoomChoice,
    Settings,
    default_deadline,
)
from app.formatting import school_year_label, to_paris
from app.forms import Form, collapse_spaces, plain_text, strip_spaces

#: The service's names of the settings → this form's fields.
FIELDS = {
    "school_year": "annee",
    "title": "titre",
    "day": "jour",
    "start": "debut",
    "end": "fin",
    "deadline": "date_limite",
    "site": "site",
    "rooms": "salles",
    "auditorium": "auditorium",
    "capacity": "capacite",
    "videoconference_url": "visio",
    "description": "description",
    "opening_minutes": "ouverture",
    "closing_minutes": "cloture",
    "break_minutes": "pause",
}


def equipment_key(room_id: int, equipment: Equipment) -> str:
    """The value of one equipment checkbox: "12:visio"."""
    return f"{room_id}:{equipment.value}"


class HalfDayForm(Form):
    annee = SelectField(
        "Année scolaire", coerce=int, validators=[InputRequired("Choisissez l'année scolaire.")]
    )
    titre = StringField(
        "Titre",
        filters=[collapse_spaces],
        validators=[
            DataRequired("Indiquez le titre."),
            Length(max=200, message="200 caractères au plus."),
            plain_text("Le titre"),
        ],
    )
    jour = DateField("Date", validators=[InputRequired("Indiquez la date de la demi-journée.")])
    debut = TimeField("Début", validators=[InputRequired("Indiquez l'heure de début.")])
    fin = TimeField("Fin", validators=[InputRequired("Indiquez l'heure de fin.")])
    date_limite = DateTimeLocalField(
        "Date limite des propositions",
        format="%Y-%m-%dT%H:%M",
        validators=[InputRequired("Indiquez la date limite des propositions (date et heure).")],
    )
    site = SelectField("Site", coerce=int, validators=[InputRequired("Choisissez le site.")])
    salles = SelectMultipleField("Salles", coerce=int)
    auditorium = RadioField("Auditorium", coerce=int, validate_choice=False)
    equipement = SelectMultipleField("Équipements")
    capacite = IntegerField(
        "Places sur place", validators=[InputRequired("Indiquez le nombre de places sur place.")]
    )
    visio = StringField(
        "Lien de visioconférence",
        filters=[strip_spaces],
        validators=[Optional(), Length(max=500, message="500 caractères au plus.")],
    )
    description = TextAreaField(
        "Description",
        validators=[Optional(), Length(max=5000, message="5 000 caractères au plus.")],
    )
    ouverture = IntegerField(
        "Ouverture (minutes)", validators=[InputRequired("Indiquez la durée de l'ouverture.")]
    )
    cloture = IntegerField(
        "Clôture (minutes)", validators=[InputRequired("Indiquez la durée de la clôture.")]
    )
    pause = IntegerField(
        "Pause (minutes)", validators=[InputRequired("Indiquez la durée de la pause.")]
    )
    confirmer = BooleanField("J'ai lu les avertissements et je confirme")

    def load_choices(self, sites: list[Site], years: list[tuple[int, bool]] | None = None) -> None:
        """`sites` with their rooms; `years` (school year, already has a half-day) at creation."""
        if years is None:
            del self.annee
        else:
            self.annee.choices = [
                SelectChoice(year, school_year_label(year) + (" (déjà créée)" if taken else ""))
                for year, taken in years
            ]
        self.site.choices = [SelectChoice(site.id, site.name) for site in sites]
        rooms = [room for site in sites for room in site.rooms]
        self.salles.choices = [SelectChoice(room.id, room.name) for room in rooms]
        self.auditorium.choices = [SelectChoice(room.id, room.name) for room in rooms]
        self.equipement.choices = [
            SelectChoice(equipment_key(room.id, e), e.title) for room in rooms for e in Equipment
        ]

    def settings(self, school_year: int, sites: list[Site]) -> Settings:
        """The validated fields as the service takes them."""
        site = next(s for s in sites if s.id == self.site.data)
        rooms = {room.id: room for s in sites for room in s.rooms}
        chosen = set(self.equipement.data or ())
        return Settings(
            school_year=school_year,
            title=self.titre.data,
            day=self.jour.data,
            start=self.debut.data,
            end=self.fin.data,
            deadline=self.date_limite.data,
            site=site,
            rooms=tuple(
                RoomChoice(
                    room=rooms[room_id],
                    is_auditorium=room_id == self.auditorium.data,
                    equipment=frozenset(
                        e for e in Equipment if equipment_key(room_id, e) in chosen
                    ),
                )
                for room_id in dict.fromkeys(self.salles.data or ())
            ),
            capacity=self.capacite.data,
            videoconference_url=self.visio.data or "",
            description=(self.description.data or "").strip(),
            opening_minutes=self.ouverture.data,
            closing_minutes=self.cloture.data,
            break_minutes=self.pause.data,
        )

    def attach(self, problems: list[Problem]) -> None:
        """Show each of the service's problems under its field."""
        for problem in problems:
            name = FIELDS.get(problem.field)
            if name and name in self:
                self[name].errors = [*self[name].errors, problem.message]

    def fill(self, half_day: HalfDay) -> None:
        """The half-day's current settings, for its edit page."""
        self.titre.data = half_day.title
        self.jour.data = local_day(half_day)
        self.debut.data, self.fin.data = (
            local_time(half_day.starts_at),
            local_time(half_day.ends_at),
        )
        self.date_limite.data = to_paris(half_day.deadline).replace(tzinfo=None)
        self.site.data = half_day.site_id
        self.salles.data = [room.room_id for room in half_day.rooms]
        self.auditorium.data = half_day.auditorium.room_id if half_day.auditorium else None
        self.equipement.data = [
            equipment_key(room.room_id, e) for room in half_day.rooms for e in room.equipment
        ]
        self.capacite.data = half_day.capacity
        self.visio.data = half_day.videoconference_url
        self.description.data = half_day.description
        self.ouverture.data = half_day.opening_minutes
        self.cloture.data = half_day.closing_minutes
        self.pause.data = half_day.break_minutes

    def prefill(self, year: int, site: Site | None, day) -> None:
        """A new half-day's starting values: the default hours, the Amiens site and its
        auditorium, a suggested date and a deadline four weeks before it."""
        self.annee.data = year
        self.titre.data = f"Rencontres TICE {school_year_label(year)}"
        self.debut.data, self.fin.data = DEFAULT_START, DEFAULT_END
        self.ouverture.data, self.cloture.data, self.pause.data = 15, 15, 20
        if day is not None:
            self.jour.data = day
            self.date_limite.data = default_deadline(day)
        if site is None:
            return
        self.site.data = site.id
        auditorium = auditorium_of(site)
        if auditorium is not None:
            self.salles.data = [auditorium.id]
            self.auditorium.data = auditorium.id
            self.capacite.data = auditorium.capacity
        self.equipement.data = [
            equipment_key(room.id, Equipment.videoconference)
            for room in site.rooms
            if room.videoconference
        ]


def auditorium_of(site: Site) -> Room | None:
    """The room named like an auditorium, else the largest room of the site."""
    named = [room for room in site.rooms if "auditorium" in room.name.casefold()]
    return max(named or site.rooms, key=lambda room: room.capacity, default=None)


class ActionForm(Form):
    """A button that changes state (CSRF only)."""


class ReopenForm(Form):
    date_limite = DateTimeLocalField(
        "Nouvelle date limite des propositions",
        format="%Y-%m-%dT%H:%M",
        validators=[
            InputRequired("Indiquez la nouvelle date limite des propositions (date et heure).")
        ],
    )

    def deadline(self) -> datetime:
        return self.date_limite.data
