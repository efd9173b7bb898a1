"""Back-office forms. Choices come from the database at each request; messages in French."""

import sqlalchemy as sa
from sqlalchemy.orm import contains_eager
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    DecimalField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp

from app.booking.forms import RegistrationForm
from app.catalog.models import Level, Room, Site, Topic, Trainer
from app.extensions import db
from app.forms import (
    Form,
    collapse_spaces,
    email_field,
    first_name_field,
    last_name_field,
    plain_text,
    strip_spaces,
)


def _slug_field(label: str) -> StringField:
    """The identifier of a site or a topic, in public addresses: typed once, never changed."""
    return StringField(
        label,
        filters=[strip_spaces],
        validators=[DataRequired("Indiquez l'identifiant."), Length(max=40)],
    )


def _name_field() -> StringField:
    """The name of a site, a room or a topic, one line."""
    return StringField(
        "Nom",
        filters=[collapse_spaces],
        validators=[DataRequired("Indiquez le nom."), Length(max=80), plain_text("Le nom")],
    )


def _seats_field(label: str) -> IntegerField:
    """A number of places, for a workshop or a room: the same bounds for both."""
    return IntegerField(
        label,
        validators=[
            InputRequired("Indiquez le nombre de places."),
            NumberRange(min=1, max=500, message="Entre 1 et 500 places."),
        ],
    )


class WorkshopForm(Form):
    titre = StringField(
        "Titre",
        filters=[collapse_spaces],
        validators=[DataRequired("Indiquez le titre."), Length(max=200), plain_text("Le titre")],
    )
    description = TextAreaField(
        "Description",
        validators=[Optional(), Length(max=5000, message="5 000 caractères au plus.")],
    )
    theme = SelectField("Thème", coerce=int, validators=[InputRequired("Choisissez un thème.")])
    niveau = SelectField(
        "Niveau", choices=[SelectChoice(level.value, level.title) for level in Level]
    )
    salle = SelectField("Salle", coerce=int, validators=[InputRequired("Choisissez une salle.")])
    formateur = SelectField(
        "Formateur·rice", coerce=int, validators=[InputRequired("Choisissez un formateur.")]
    )
    jour = DateField("Date", validators=[InputRequired("Indiquez la date (jj/mm/aaaa).")])
    debut = TimeField("Début", validators=[InputRequired("Indiquez l'heure de début.")])
    fin = TimeField("Fin", validators=[InputRequired("Indiquez l'heure de fin.")])
    capacite = _seats_field("Nombre de places")
    a_apporter = StringField(
        "À apporter",
        filters=[collapse_spaces],
        validators=[Optional(), Length(max=300), plain_text("Ce champ")],
    )
    date_limite = DateTimeLocalField(
        "Date limite d'inscription (facultatif)", format="%Y-%m-%dT%H:%M", validators=[Optional()]
    )
    confirmer = BooleanField("J'ai lu les avertissements et je confirme")

    def load_choices(self) -> None:
        topics = db.session.scalars(sa.select(Topic).order_by(Topic.name))
        self.theme.choices = [SelectChoice(t.id, t.name) for t in topics]
        rooms = db.session.scalars(
            sa.select(Room)
            .join(Site)
            .options(contains_eager(Room.site))
            .order_by(Site.name, Room.name)
        )
        self.salle.choices = [
            SelectChoice(r.id, f"{r.name} ({r.capacity} places)", optgroup=r.site.name)
            for r in rooms
        ]
        trainers = db.session.scalars(
            sa.select(Trainer).order_by(Trainer.last_name, Trainer.first_name)
        )
        self.formateur.choices = [SelectChoice(t.id, t.full_name) for t in trainers]


class CancelForm(Form):
    motif = TextAreaField(
        "Motif (il figure dans le courriel envoyé aux inscrits)",
        validators=[DataRequired("Indiquez le motif de l'annulation."), Length(max=500)],
    )


class AddRegistrationForm(RegistrationForm):
    """A teacher registered by a coordinator (after a phone call…): the public form's rules."""


class SiteForm(Form):
    slug = _slug_field("Identifiant (dans les adresses : amiens, abbeville…)")
    nom = _name_field()
    rue = StringField(
        "Adresse",
        filters=[collapse_spaces],
        validators=[DataRequired("Indiquez l'adresse."), Length(max=200), plain_text("L'adresse")],
    )
    code_postal = StringField(
        "Code postal",
        filters=[strip_spaces],
        validators=[
            DataRequired("Indiquez le code postal."),
            Regexp(r"^[0-9]{5}$", message="Un code postal compte 5 chiffres."),
        ],
    )
    ville = StringField(
        "Ville",
        filters=[collapse_spaces],
        validators=[DataRequired("Indiquez la ville."), Length(max=80), plain_text("La ville")],
    )
    latitude = DecimalField(
        "Latitude (facultatif)",
        places=None,
        validators=[Optional(), NumberRange(min=-90, max=90, message="Entre -90 et 90.")],
    )
    longitude = DecimalField(
        "Longitude (facultatif)",
        places=None,
        validators=[Optional(), NumberRange(min=-180, max=180, message="Entre -180 et 180.")],
    )
    acces = TextAreaField(
        "Accès (transports, stationnement)", validators=[Optional(), Length(max=2000)]
    )

    def values(self) -> dict:
        return {
            "slug": self.slug.data,
            "name": self.nom.data,
            "street": self.rue.data,
            "postcode": self.code_postal.data,
            "city": self.ville.data,
            "latitude": float(self.latitude.data) if self.latitude.data is not None else None,
            "longitude": float(self.longitude.data) if self.longitude.data is not None else None,
            "access_notes": self.acces.data or "",
        }


class RoomForm(Form):
    nom = _name_field()
    capacite = _seats_field("Places")
    visio = BooleanField("Équipée pour la visioconférence")
    plain_pied = BooleanField("Accessible sans marche (fauteuil roulant)", default=True)

    def values(self) -> dict:
        return {
            "name": self.nom.data,
            "capacity": self.capacite.data,
            "videoconference": self.visio.data,
            "step_free": self.plain_pied.data,
        }


class TopicForm(Form):
    slug = _slug_field("Identifiant (dans l'adresse de son calendrier)")
    nom = _name_field()
    description = TextAreaField("Description", validators=[Optional(), Length(max=2000)])

    def values(self) -> dict:
        return {
            "slug": self.slug.data,
            "name": self.nom.data,
            "description": self.description.data or "",
        }


class TrainerForm(Form):
    prenom = first_name_field("Indiquez le prénom.")
    nom = last_name_field("Indiquez le nom.")
    courriel = email_field("Indiquez l'adresse électronique.")

    def values(self) -> dict:
        return {
            "first_name": self.prenom.data,
            "last_name": self.nom.data,
            "email": self.courriel.data,
        }
