"""Check-in forms: a tap (present or absent, with the time it was made) and a walk-in.

The walk-in is validated by the same rules as the public registration form (the shared fields of
`app.forms`); only the wording speaks to the trainer instead of the teacher.
"""

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import AnyOf, DataRequired, ValidationError

from app.attendance.models import UNMARKED, Presence
from app.forms import (
    email_field,
    first_name_field,
    last_name_field,
    school_field,
    strip_spaces,
    uai_field,
)

#: A tap time is milliseconds since 1970, as JavaScript's Date.now() gives: 13 digits today.
TAP_DIGITS_MAX = 15


def tap_time(form, field):
    """Digits only (no sign, no exponent, no decimals), turned into an int; the service checks
    that the time is plausible."""
    value = field.data or ""
    if not (value.isascii() and value.isdigit() and len(value) <= TAP_DIGITS_MAX):
        raise ValidationError(
            "L'heure du pointage est invalide : rechargez la page et recommencez."
        )
    field.data = int(value)


class MarkForm(FlaskForm):
    """One tap: present, absent, or unmarked again (UNMARKED). Sent by a form button (no
    JavaScript) or by fetch() from checkin.js.

    No CSRF field of its own: the app-wide CSRFProtect already checks every POST, from the form's
    hidden field or from the X-CSRFToken header the script sends (a form-level check would ask
    fetch() for a body field as well).
    """

    class Meta:
        csrf = False

    presence = StringField(
        validators=[
            DataRequired("Indiquez si la personne est présente ou absente."),
            AnyOf(
                [*(p.value for p in Presence), UNMARKED],
                message="La présence doit être « présent », « absent » ou « non pointé ».",
            ),
        ],
    )
    tape = StringField(
        filters=[strip_spaces],
        validators=[DataRequired("L'heure du pointage manque : rechargez la page."), tap_time],
    )

    def first_error(self) -> str:
        return next(iter(self.errors.values()))[0]


class WalkInForm(FlaskForm):
    """A person who came without a registration, added by the trainer at the door."""

    nom = last_name_field("Indiquez le nom de la personne.")
    prenom = first_name_field("Indiquez le prénom de la personne.")
    #: Required: the attendance certificate and the questionnaire are sent to this address.
    courriel = email_field(
        "Indiquez l'adresse électronique de la personne : son attestation de présence "
        "lui est envoyée à cette adresse."
    )
    ecole = school_field("Indiquez l'école de la personne.")
    uai = uai_field()
