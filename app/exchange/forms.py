"""The proposal form of the call for contributions, and the coordinators' decision form.

The form checks what each field is (lengths, one line, a value of its list); the rules of the
half-day (availability within its hours, a topic that exists, no double submission) are the
service's (`app.exchange.proposals.rules`), whose refusals the views show under the field concerned.
HTML typed in a field is kept as text: every page and mail escapes it.
"""

import re
import unicodedata
from datetime import time

from wtforms import RadioField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from app.catalog.models import Level
from app.exchange.models import ContributionFormat, Equipment
from app.exchange.proposals.data import (
    MAX_MESSAGE_LENGTH,
    MAX_PRESENTER_LENGTH,
    MAX_PRESENTERS,
    MAX_SUMMARY_LENGTH,
    ProposalData,
    ProposalRefused,
    topics,
)
from app.exchange.proposals.rules import arrival_choices, check_availability, departure_choices
from app.formatting import clock_fr, count_fr
from app.forms import Form, collapse_spaces, email_field, honeypot_empty

CLOCK = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
#: Invisible characters and line breaks no one-line field may hold (they would break a mail's
#: subject, a calendar's SUMMARY or a PDF's line).
_INVISIBLE = ("Cc", "Cf", "Zl", "Zp")


def _raw(field) -> str:
    return field.raw_data[0] if field.raw_data and isinstance(field.raw_data[0], str) else ""


def one_line(what: str):
    def check(form, field):
        if any(unicodedata.category(c) in _INVISIBLE for c in _raw(field)):
            raise ValidationError(f"{what} doit tenir sur une ligne, sans caractère invisible.")

    return check


def text_block(what: str):
    """Several lines are fine; other control characters are not."""

    def check(form, field):
        if any(unicodedata.category(c) in _INVISIBLE and c not in "\r\n\t" for c in _raw(field)):
            raise ValidationError(f"{what} contient un caractère invisible : retirez-le.")

    return check


def normalise_lines(value):
    """Line breaks as \\n, spaces trimmed at both ends."""
    if not isinstance(value, str):
        return value
    return value.replace("\r\n", "\n").replace("\r", "\n").strip()


def in_choices(message: str):
    """The submitted value (or each of them) is one the field offers."""

    def check(form, field):
        offered = {str(value) for value, *_ in field.choices}
        values = field.data if isinstance(field.data, list) else [field.data]
        if any(value not in offered for value in values if value not in (None, "")):
            raise ValidationError(message)

    return check


def presenter_lines(form, field):
    names = [" ".join(line.split()) for line in (field.data or "").split("\n")]
    names = [name for name in names if name]
    if not names:
        raise ValidationError("Indiquez le nom d'au moins une personne qui présente.")
    if len(names) > MAX_PRESENTERS:
        raise ValidationError(
            f"{MAX_PRESENTERS} personnes au plus peuvent présenter (un nom par ligne) : "
            f"vous en avez indiqué {len(names)}."
        )
    for name in names:
        if len(name) > MAX_PRESENTER_LENGTH:
            raise ValidationError(f"Chaque nom ne peut dépasser {MAX_PRESENTER_LENGTH} caractères.")
        if not any(c.isalpha() for c in name):
            raise ValidationError(f"« {name} » n'est pas un nom : indiquez un nom par ligne.")
    field.names = tuple(names)


def summary_length(form, field):
    length = len(field.data or "")
    if length > MAX_SUMMARY_LENGTH:
        raise ValidationError(
            f"Le résumé ne peut dépasser {count_fr(MAX_SUMMARY_LENGTH)} caractères : "
            f"il en compte {length}."
        )


def parse_clock(value: str | None) -> time | None:
    match = CLOCK.fullmatch(value or "")
    return time(int(match[1]), int(match[2])) if match else None


class ProposalEditForm(Form):
    """What a presenter may change from their page (not the e-mail: it is where the link goes)."""

    intervenants = TextAreaField(
        "Personnes qui présentent",
        filters=[normalise_lines],
        validators=[
            DataRequired("Indiquez le nom d'au moins une personne qui présente."),
            Length(max=600, message="La liste des noms est trop longue : 4 noms au plus."),
            text_block("La liste des noms"),
            presenter_lines,
        ],
    )
    organisation = StringField(
        "Établissement ou organisme",
        filters=[collapse_spaces],
        validators=[
            DataRequired("Indiquez votre établissement ou organisme."),
            Length(max=200, message="Le nom de l'établissement ne peut dépasser 200 caractères."),
            one_line("Le nom de l'établissement"),
        ],
    )
    titre = StringField(
        "Titre de la proposition",
        filters=[collapse_spaces],
        validators=[
            DataRequired("Indiquez le titre de votre proposition."),
            Length(max=200, message="Le titre ne peut dépasser 200 caractères."),
            one_line("Le titre"),
        ],
    )
    resume = TextAreaField(
        "Résumé",
        filters=[normalise_lines],
        validators=[
            DataRequired("Indiquez un résumé de votre proposition."),
            summary_length,
            text_block("Le résumé"),
        ],
    )
    format = RadioField(
        "Format",
        choices=[SelectChoice(f.value, f.title) for f in ContributionFormat],
        validate_choice=False,
        validators=[
            InputRequired("Choisissez le format de votre intervention."),
            in_choices("Choisissez un des formats proposés."),
        ],
    )
    theme = SelectField(
        "Thème",
        validate_choice=False,
        validators=[
            DataRequired("Choisissez un thème."),
            in_choices("Choisissez un thème de la liste."),
        ],
    )
    niveau = RadioField(
        "Niveau du public visé",
        choices=[SelectChoice(level.value, level.title) for level in Level],
        validate_choice=False,
        validators=[
            InputRequired("Choisissez le niveau du public visé."),
            in_choices("Choisissez « Débutant » ou « Expert »."),
        ],
    )
    besoins = SelectMultipleField(
        "Besoins matériels",
        choices=[SelectChoice(e.value, e.title) for e in Equipment],
        validate_choice=False,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validators=[in_choices("Choisissez vos besoins parmi ceux de la liste.")],
    )
    arrivee = SelectField(
        "J'arrive après",
        validate_choice=False,
        validators=[
            in_choices("Choisissez une heure d'arrivée dans la liste (pendant la demi-journée).")
        ],
    )
    depart = SelectField(
        "Je pars à",
        validate_choice=False,
        validators=[
            in_choices("Choisissez une heure de départ dans la liste (pendant la demi-journée).")
        ],
    )

    #: The fields in the order the page shows them (the error summary follows it).
    PAGE_ORDER = (
        "intervenants",
        "courriel",
        "organisation",
        "titre",
        "resume",
        "format",
        "theme",
        "niveau",
        "besoins",
        "arrivee",
        "depart",
        "site_web",
    )
    half_day = None

    def load_choices(self, half_day) -> None:
        """The half-day's topics and times (its 5-minute grid within its hours)."""
        self.half_day = half_day
        self.theme.choices = [SelectChoice("", "Choisissez un thème")] + [
            SelectChoice(str(t.id), t.name) for t in topics()
        ]
        self.arrivee.choices = [SelectChoice("", "Dès le début")] + [
            SelectChoice(t.strftime("%H:%M"), clock_fr(t)) for t in arrival_choices(half_day)
        ]
        self.depart.choices = [SelectChoice("", "Jusqu'à la fin")] + [
            SelectChoice(t.strftime("%H:%M"), clock_fr(t)) for t in departure_choices(half_day)
        ]

    def validate(self, extra_validators=None) -> bool:
        """The fields, then the half-day's availability rule (the service's) once the format
        and both times are readable: every problem shows at once."""
        valid = super().validate(extra_validators)
        fields = (self.format, self.arrivee, self.depart)
        if self.half_day is not None and self.format.data and not any(f.errors for f in fields):
            try:
                check_availability(
                    self.half_day,
                    ContributionFormat(self.format.data),
                    parse_clock(self.arrivee.data),
                    parse_clock(self.depart.data),
                )
            except ProposalRefused as refusal:
                self.refuse(refusal)
                valid = False
        return valid

    def ordered_errors(self) -> list[tuple[str, str]]:
        """(field id, first message) of each field in error, in the page's order."""
        names = [n for n in self.PAGE_ORDER if n in self._fields]
        names += [n for n in self._fields if n not in names]
        return [(self[n].id, self[n].errors[0]) for n in names if self[n].errors]

    def fill(self, contribution) -> None:
        """Show a stored proposal in the form."""
        self.intervenants.data = contribution.presenters
        self.organisation.data = contribution.organisation
        self.titre.data = contribution.title
        self.resume.data = contribution.summary
        self.format.data = contribution.format.value
        self.theme.data = str(contribution.topic_id)
        self.niveau.data = contribution.level.value
        self.besoins.data = sorted(e.value for e in contribution.needs)
        self.arrivee.data = (
            contribution.available_from.strftime("%H:%M") if contribution.available_from else ""
        )
        self.depart.data = (
            contribution.available_until.strftime("%H:%M") if contribution.available_until else ""
        )

    def proposal(self, email: str = "") -> ProposalData:
        """The validated values, for the service."""
        return ProposalData(
            presenters=self.intervenants.names,
            organisation=self.organisation.data,
            title=self.titre.data,
            summary=self.resume.data,
            format=ContributionFormat(self.format.data),
            topic_id=int(self.theme.data),
            level=Level(self.niveau.data),
            needs=frozenset(Equipment(value) for value in self.besoins.data or ()),
            available_from=parse_clock(self.arrivee.data),
            available_until=parse_clock(self.depart.data),
            email=email,
        )

    def refuse(self, refusal: ProposalRefused) -> str | None:
        """Show a service's refusal under its field; one about no field is returned, for the
        page to show above the form."""
        field = self._fields.get(refusal.field or "")
        if field is None:
            return str(refusal)
        field.errors = [*field.errors, str(refusal)]
        return None


class ProposalForm(ProposalEditForm):
    # Partners (Somme Numérique, the education services…) come with their own domains.
    courriel = email_field(academic=False)
    #: Left empty by people; filled by robots. Hidden from sight and from assistive technology.
    site_web = StringField("Ne pas remplir ce champ", validators=[honeypot_empty])

    def proposal(self, email: str = "") -> ProposalData:
        return super().proposal(email=self.courriel.data)


class DecisionForm(Form):
    decision = SelectField(
        "Décision",
        choices=[SelectChoice("accepter", "Accepter"), SelectChoice("refuser", "Ne pas retenir")],
        validate_choice=False,
        validators=[
            InputRequired("Choisissez une décision."),
            in_choices("Choisissez « Accepter » ou « Ne pas retenir »."),
        ],
    )
    message = TextAreaField(
        "Message au proposant",
        filters=[normalise_lines],
        validators=[
            Length(
                max=MAX_MESSAGE_LENGTH,
                message=f"Le message ne peut dépasser {count_fr(MAX_MESSAGE_LENGTH)} caractères.",
            ),
            text_block("Le message"),
        ],
    )

    @property
    def accepted(self) -> bool:
        return self.decision.data == "accepter"
