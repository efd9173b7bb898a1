"""What every form shares: the base with WTForms' own messages in French ("Choix non valide"…)
where a field has no message of its own (Flask-WTF's translations need Flask-Babel; WTForms ships
French), and the fields and validators that several packages' forms use alike — a person's name,
address, school and UAI code, one-line text, the honeypot — so a rule checked on the public form
is the same rule at check-in, in the back office and at the exchange half-day."""

import re
import unicodedata

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_wtf import FlaskForm
from wtforms import EmailField, StringField
from wtforms.validators import DataRequired, Length, Optional, ValidationError


class Form(FlaskForm):
    class Meta:
        locales = ("fr",)


UAI_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"  # the 23 check letters: no I, O, Q
UAI_PATTERN = re.compile(r"([0-9]{7})([A-Z])")  # ASCII only: \d would take "٠٧٥…"
NAME_PUNCTUATION = set(" '’-.")


def uai_check_letter(digits: str) -> str:
    return UAI_LETTERS[int(digits) % 23]


def collapse_spaces(value):
    return " ".join(value.split()) if isinstance(value, str) else value


def _reject_control_characters(value: str, what: str) -> None:
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in value):
        raise ValidationError(
            f"{what} ne doit contenir ni retour à la ligne ni caractère invisible."
        )


def person_name(what: str):
    def check(form, field):
        raw = field.raw_data[0] if field.raw_data else ""
        _reject_control_characters(raw, what)
        value = field.data or ""
        allowed = all(
            c.isalpha() or c in NAME_PUNCTUATION or unicodedata.category(c).startswith("M")
            for c in value
        )
        if not allowed or not any(c.isalpha() for c in value):
            raise ValidationError(
                f"{what} ne peut contenir que des lettres, des espaces, des apostrophes et des tirets."
            )

    return check


def plain_text(what: str):
    def check(form, field):
        raw = field.raw_data[0] if field.raw_data else ""
        _reject_control_characters(raw, what)
        if "<" in raw or ">" in raw:
            raise ValidationError(f"{what} ne peut pas contenir les caractères < et >.")

    return check


def normalise_email(email: str | None) -> str:
    """An address as the service compares it (a person's identity on a workshop, a staff
    login): trimmed and lower-cased."""
    return (email or "").strip().lower()


def valid_email(*, academic: bool = True):
    """The address, checked and normalised; `academic` also requires one of the
    ALLOWED_EMAIL_DOMAINS when that setting is given (teachers register with their academic
    address; the exchange half-day's partners may write from any)."""

    def check(form, field):
        try:
            # ASCII mailboxes only: "léa@…" or full-width letters reach nobody through the relays.
            result = validate_email(
                field.data or "", check_deliverability=False, allow_smtputf8=False
            )
        except EmailNotValidError:
            raise ValidationError(
                "Cette adresse électronique n'est pas valide. Exemple : prenom.nom@ac-amiens.fr"
            ) from None
        email = result.normalized.lower()
        allowed = current_app.config["ALLOWED_EMAIL_DOMAINS"] if academic else ()
        domain = email.rsplit("@", 1)[1]
        if allowed and domain not in allowed:
            listed = ", ".join(f"@{d}" for d in allowed)
            raise ValidationError(f"Utilisez votre adresse professionnelle ({listed}).")
        field.data = email

    return check


def uai_code(form, field):
    value = (field.data or "").replace(" ", "").upper()
    match = UAI_PATTERN.fullmatch(value)
    if not match:
        raise ValidationError(
            "Le code UAI de l'école comporte 7 chiffres suivis d'une lettre, par exemple 0801234G."
        )
    if uai_check_letter(match[1]) != match[2]:
        raise ValidationError(
            "La lettre de contrôle de ce code UAI ne correspond pas aux chiffres : vérifiez le code."
        )
    field.data = value


def honeypot_empty(form, field):
    if field.data:
        raise ValidationError("Votre demande n'a pas pu être enregistrée.")


def strip_spaces(value):
    return value.strip() if isinstance(value, str) else value


# The person's fields, with their rules, for every form that names a teacher (the public
# registration, a walk-in at check-in, a coordinator's registration by hand): only the message
# for a missing value differs, as it speaks to the teacher or about them.


def last_name_field(missing: str = "Indiquez votre nom.") -> StringField:
    return StringField(
        "Nom",
        filters=[collapse_spaces],
        validators=[
            DataRequired(missing),
            Length(max=100, message="Le nom ne peut dépasser 100 caractères."),
            person_name("Le nom"),
        ],
    )


def first_name_field(missing: str = "Indiquez votre prénom.") -> StringField:
    return StringField(
        "Prénom",
        filters=[collapse_spaces],
        validators=[
            DataRequired(missing),
            Length(max=100, message="Le prénom ne peut dépasser 100 caractères."),
            person_name("Le prénom"),
        ],
    )


def email_field(
    missing: str = "Indiquez votre adresse électronique.", *, academic: bool = True
) -> EmailField:
    return EmailField(
        "Adresse électronique",
        filters=[strip_spaces],
        validators=[
            DataRequired(missing),
            Length(max=254, message="L'adresse électronique est trop longue."),
            valid_email(academic=academic),
        ],
    )


def school_field(missing: str = "Indiquez le nom de votre école.") -> StringField:
    return StringField(
        "École",
        filters=[collapse_spaces],
        validators=[
            DataRequired(missing),
            Length(max=200, message="Le nom de l'école ne peut dépasser 200 caractères."),
            plain_text("Le nom de l'école"),
        ],
    )


def uai_field() -> StringField:
    return StringField(
        "Code UAI de l'école (facultatif)",
        filters=[collapse_spaces],
        validators=[Optional(), uai_code],
    )
