"""Staff login at /connexion, logout, and the password reset by mailed link."""

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user

from app.extensions import limiter, login_manager
from app.staff import services
from app.staff.forms import LoginForm, NewPasswordForm, ResetRequestForm
from app.staff.models import StaffUser

blueprint = Blueprint("staff", __name__, template_folder="templates")


@login_manager.user_loader
def load_user(session_secret: str) -> StaffUser | None:
    return services.load_session_user(session_secret)


def _email_key() -> str:
    return services.login_rate_key(request.form.get("courriel", ""))


def _safe_next(target: str | None) -> str | None:
    """Only a path of this site: never an open redirect to another host."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


def home_for(user: StaffUser) -> str:
    return url_for("admin.home" if user.is_coordinator else "attendance.sessions")


@blueprint.route("/connexion", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN_PER_IP"], methods=["POST"])
@limiter.limit(
    lambda: current_app.config["RATELIMIT_LOGIN_PER_EMAIL"], key_func=_email_key, methods=["POST"]
)
def login():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        user = services.authenticate(form.courriel.data, form.mot_de_passe.data)
        if user is not None:
            services.start_session(user)
            login_user(user)
            return redirect(_safe_next(request.args.get("next")) or home_for(user))
        error = "Adresse ou mot de passe incorrect."
    status = 422 if request.method == "POST" else 200
    return render_template("staff/login.html", form=form, error=error), status


@blueprint.post("/deconnexion")
def logout():
    if current_user.is_authenticated:
        services.end_session(current_user)
    logout_user()
    flash("Vous êtes déconnecté·e.")
    return redirect(url_for("staff.login"))


@blueprint.route("/connexion/oubli", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN_PER_IP"], methods=["POST"])
@limiter.limit(
    lambda: current_app.config["RATELIMIT_LOGIN_PER_EMAIL"], key_func=_email_key, methods=["POST"]
)
def forgotten():
    form = ResetRequestForm()
    if form.validate_on_submit():
        services.request_password_reset(form.courriel.data)
        flash(
            "Si un compte correspond à cette adresse, un lien pour choisir un nouveau mot de passe "
            "vient de lui être envoyé. Il est valable deux heures."
        )
        return redirect(url_for("staff.login"))
    status = 422 if request.method == "POST" else 200
    return render_template("staff/forgotten.html", form=form), status


@blueprint.route("/connexion/reinitialiser/<token>", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN_PER_IP"], methods=["POST"])
def reset(token: str):
    if services.reset_token_owner(token) is None:
        return render_template("staff/reset_invalid.html"), 404
    form = NewPasswordForm()
    error = None
    if form.validate_on_submit():
        try:
            services.reset_password(token, form.mot_de_passe.data)
        except services.AccountRefused as refusal:
            error = str(refusal)
        else:
            logout_user()
            flash("Votre mot de passe a été changé. Connectez-vous avec le nouveau.")
            return redirect(url_for("staff.login"))
    status = 422 if request.method == "POST" else 200
    return render_template("staff/reset.html", form=form, error=error, token=token), status
