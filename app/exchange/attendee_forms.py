"""The forms of people attending the exchange half-day: registering (in person or remotely) and
switching mode from the management page. The person's fields are the shared ones of `app.forms`,
with their rules."""

from wtforms import RadioField, SelectChoice, StringField
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length

from app.exchange.models import AttendanceMode
from app.forms import (
    Form,
    collapse_spaces,
    email_field,
    first_name_field,
    honeypot_empty,
    last_name_field,
    plain_text,
)

#: The form's values (French, as the URL-visible field names are) and the modes they mean.
MODES = {"sur_place": AttendanceMode.in_person, "a_distance": AttendanceMode.remote}
MODE_VALUES = {mode: value for value, mode in MODES.items()}
MODE_LABELS = {
    "sur_place": "Sur place, à l'auditorium",
    "a_distance": "À distance, en visioconférence",
}
MODE_MISSING = "Choisissez si vous venez sur place ou suivez à distance."


def mode_field() -> RadioField:
    """Sur place / à distance, with French messages for a missing or unknown value."""
    return RadioField(
        "Comment participez-vous ?",
        choices=[SelectChoice(value, MODE_LABELS[value]) for value in MODES],
        validate_choice=False,  # WTForms' own message is English: AnyOf says it in French
        validators=[InputRequired(MODE_MISSING), AnyOf(list(MODES), message=MODE_MISSING)],
    )


def organisation_field() -> StringField:
    return StringField(
        "École ou structure",
        filters=[collapse_spaces],
        validators=[
            DataRequired("Indiquez votre école ou votre structure."),
            Length(
                max=200,
                message="Le nom de l'école ou de la structure ne peut dépasser 200 caractères.",
            ),
            plain_text("Le nom de l'école ou de la structure"),
        ],
    )


class AttendeeForm(Form):
    nom = last_name_field()
    prenom = first_name_field()
    # Partners (Somme Numérique, the education services…) come with their own domains.
    courriel = email_field(academic=False)
    organisation = organisation_field()
    mode = mode_field()
    #: Left empty by people; filled by robots. Hidden from sight and from assistive technology.
    site_web = StringField("Ne pas remplir ce champ", validators=[honeypot_empty])

    @property
    def attendance_mode(self) -> AttendanceMode:
        return MODES[self.mode.data]


class ModeForm(Form):
    """Switching between in person and remote, from the management page."""

    mode = mode_field()

    @property
    def attendance_mode(self) -> AttendanceMode:
        return MODES[self.mode.data]
