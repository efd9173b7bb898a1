"""Forms of the coordinators' agenda page: build, publish, move or place a contribution."""

from wtforms import BooleanField, SelectField, StringField, TimeField
from wtforms.validators import InputRequired, Length, Optional

from app.exchange.models import HalfDay
from app.forms import Form, collapse_spaces, plain_text


class BuildForm(Form):
    confirmer = BooleanField("Je comprends que les changements faits à la main seront perdus")


class PublishForm(Form):
    note = StringField(
        "Note de version (facultative, pour l'historique)",
        filters=[collapse_spaces],
        validators=[
            Optional(),
            Length(max=300, message="La note tient en 300 caractères au plus."),
            plain_text("La note"),
        ],
    )


class SlotForm(Form):
    """Where a contribution goes: a room of the half-day and a start time (Paris)."""

    salle = SelectField(
        "Salle",
        coerce=int,
        validate_choice=True,
        validators=[InputRequired("Choisissez une salle.")],
    )
    debut = TimeField("Début", validators=[InputRequired("Indiquez l'heure de début (hh:mm).")])

    def load_choices(self, half_day: HalfDay) -> "SlotForm":
        self.salle.choices = [(room.id, room.name) for room in half_day.rooms]
        return self

    def first_error(self) -> str:
        for name in ("salle", "debut"):
            errors = getattr(self, name).errors
            if errors:
                return f"{getattr(self, name).label.text} : {errors[0]}"
        return next(iter(self.errors.values()))[0] if self.errors else "Formulaire incomplet."
