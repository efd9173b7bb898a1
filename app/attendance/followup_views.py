"""After the session, on the web: certificate verification, the certificate's download, the
questionnaire, and the answers of a session for its trainer and the coordinators."""

import unicodedata

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectChoice, TextAreaField
from wtforms.validators import AnyOf, InputRequired, Length, ValidationError

from app.attendance import certificates, followup, services
from app.attendance.models import LevelFit, WillUse
from app.booking import services as booking
from app.extensions import limiter
from app.formatting import count_fr
from app.staff.access import staff_required, workshop_or_403

blueprint = Blueprint("followup", __name__, template_folder="templates")

#: Codes checked per client address: plenty for a school office, too few to enumerate 2^59 codes.
CERTIFICATE_CHECKS_PER_IP = "30 per minute"


@blueprint.get("/attestations/<code>")
@limiter.limit(CERTIFICATE_CHECKS_PER_IP)
def verify_certificate(code: str):
    certificate = certificates.certificate_by_code(code)
    if certificate is None:
        return render_template("attendance/certificate_unknown.html"), 404
    registration = certificate.registration
    return render_template(
        "attendance/certificate_genuine.html",
        certificate=certificate,
        registration=registration,
        workshop=registration.workshop,
        duration=certificates.duration_fr(certificate.minutes),
    )


@blueprint.get("/inscription/<token>/attestation.pdf")
def certificate_pdf(token: str):
    """The certificate of the registration this management link opens (404 without one)."""
    registration = booking.registration_for_token(token)  # an unknown link: NotFound, a 404
    certificate = certificates.certificate_of(registration.id)
    if certificate is None:
        abort(404)
    response = make_response(certificates.certificate_pdf(certificate))
    response.mimetype = "application/pdf"
    filename = certificates.pdf_filename(registration.workshop)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- the questionnaire ---------------------------------------------------------------------------


def _no_control_characters(form, field):
    """Line breaks and tabs are welcome in a comment; other control characters (NUL…) are not."""
    if any(unicodedata.category(c) == "Cc" and c not in "\r\n\t" for c in field.data or ""):
        raise ValidationError("Le commentaire contient des caractères invisibles : retirez-les.")


def _radio(label: str, choices: list[tuple[str, str]], missing: str) -> RadioField:
    """Radio buttons whose messages are French: a missing or unknown value says what to do."""
    return RadioField(
        label,
        choices=[SelectChoice(value, text) for value, text in choices],
        validate_choice=False,  # WTForms' own message is English: AnyOf says it in French
        validators=[
            InputRequired(missing),
            AnyOf([value for value, _ in choices], message=missing),
        ],
    )


_COMMENT_MAX = count_fr(followup.COMMENT_MAX_LENGTH)


class QuestionnaireForm(FlaskForm):
    utilite = _radio(
        "Cet atelier vous a-t-il été utile ?",
        [
            (str(n), label)
            for n, label in enumerate(
                [
                    "1 – pas utile",
                    "2 – peu utile",
                    "3 – assez utile",
                    "4 – utile",
                    "5 – très utile",
                ],
                start=1,
            )
        ],
        "Choisissez une note d'utilité entre 1 et 5.",
    )
    niveau = _radio(
        "Le niveau de l'atelier vous convenait-il ?",
        [(member.value, member.title) for member in LevelFit],
        "Indiquez si le niveau était trop facile, adapté ou trop difficile.",
    )
    usage = _radio(
        "Utiliserez-vous ce que vous avez appris en classe ?",
        [(member.value, member.title) for member in WillUse],
        "Indiquez si vous l'utiliserez en classe : oui, peut-être ou non.",
    )
    commentaire = TextAreaField(
        "Un commentaire, une suggestion ? (facultatif)",
        # Browsers send line breaks as CRLF but count them as one character against maxlength.
        filters=[lambda value: value.replace("\r\n", "\n") if isinstance(value, str) else value],
        validators=[
            Length(
                max=followup.COMMENT_MAX_LENGTH,
                message=f"Le commentaire ne peut dépasser {_COMMENT_MAX} caractères.",
            ),
            _no_control_characters,
        ],
    )

    def answer(self) -> followup.Answer:
        return followup.Answer(
            usefulness=int(self.utilite.data),
            level_fit=LevelFit(self.niveau.data),
            will_use=WillUse(self.usage.data),
            comment=(self.commentaire.data or "").strip(),
        )


@blueprint.route("/questionnaire/<token>", methods=["GET", "POST"])
def questionnaire(token: str):
    try:
        registration = followup.questionnaire_registration(token)
    except followup.QuestionnaireNotFound:
        return _private(render_template("attendance/questionnaire_unknown.html"), 404)
    if followup.has_answered(registration.id):
        return _answered(registration, status=409 if request.method == "POST" else 200)
    form = QuestionnaireForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            return _questionnaire_page(registration, form, status=422)
        try:
            followup.record_answer(token, form.answer())
        except followup.AlreadyAnswered:
            return _answered(registration, status=409)
        flash("Merci ! Votre réponse est enregistrée.")
        return redirect(url_for(".questionnaire", token=token), code=303)
    return _questionnaire_page(registration, form)


def _questionnaire_page(registration, form, status=200):
    return _private(
        render_template(
            "attendance/questionnaire.html",
            form=form,
            registration=registration,
            workshop=registration.workshop,
        ),
        status,
    )


def _answered(registration, status):
    return _private(
        render_template(
            "attendance/questionnaire_answered.html",
            registration=registration,
            workshop=registration.workshop,
            again=status == 409,
        ),
        status,
    )


def _private(body: str, status: int):
    """A page opened by a secret link: not cached, not indexed, not leaked to other sites through
    Referer (`same-origin`: its form needs the Referer that Flask-WTF checks over https)."""
    response = make_response(body, status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


# --- staff -----------------------------------------------------------------------------------------


@blueprint.get("/formateur/seances/<int:workshop_id>/questionnaires")
@staff_required
def answers(workshop_id: int):
    workshop = workshop_or_403(services.workshop_for_staff(workshop_id))
    return render_template("attendance/answers.html", summary=followup.answers_summary(workshop))
