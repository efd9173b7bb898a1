"""The registration form: every field validated on the server, every message in French. The
fields and their rules are the shared ones of `app.forms`."""

from flask_wtf import FlaskForm
from wtforms import StringField

from app.forms import (
    email_field,
    first_name_field,
    honeypot_empty,
    last_name_field,
    school_field,
    uai_field,
)


class RegistrationForm(FlaskForm):
    nom = last_name_field()
    prenom = first_name_field()
    courriel = email_field()
    ecole = school_field()
    uai = uai_field()
    #: Left empty by people; filled by robots. Hidden from sight and from assistive technology.
    site_web = StringField("Ne pas remplir ce champ", validators=[honeypot_empty])


class CorrectionForm(FlaskForm):
    """The owner corrects what they typed (personal data is correctable by its owner until the
    workshop is closed); the address is the registration's identity (one active registration per
    address and workshop): another address means cancelling and registering again."""

    nom = last_name_field()
    prenom = first_name_field()
    ecole = school_field()
    uai = uai_field()
