"""The base of every form: WTForms' own messages in French ("Choix non valide"…) where a field
has no message of its own. (Flask-WTF's translations need Flask-Babel; WTForms ships French.)"""

from flask_wtf import FlaskForm


class Form(FlaskForm):
    class Meta:
        locales = ("fr",)
