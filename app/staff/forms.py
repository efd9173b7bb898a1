"""Login and password forms (CSRF on each, messages in French)."""

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, EqualTo, Length


class LoginForm(FlaskForm):
    courriel = EmailField(
        "Adresse électronique",
        validators=[DataRequired("Indiquez votre adresse électronique."), Length(max=254)],
    )
    mot_de_passe = PasswordField(
        "Mot de passe",
        validators=[DataRequired("Indiquez votre mot de passe."), Length(max=200)],
    )


class ResetRequestForm(FlaskForm):
    courriel = EmailField(
        "Adresse électronique",
        validators=[DataRequired("Indiquez votre adresse électronique."), Length(max=254)],
    )


class NewPasswordForm(FlaskForm):
    mot_de_passe = PasswordField(
        "Nouveau mot de passe",
        validators=[DataRequired("Choisissez un mot de passe."), Length(max=200)],
    )
    confirmation = PasswordField(
        "Confirmez le mot de passe",
        validators=[
            DataRequired("Confirmez le mot de passe."),
            EqualTo("mot_de_passe", "Les deux mots de passe sont différents."),
        ],
    )
