"""`flask staff create|password|list`: staff accounts from the shell."""

from contextlib import contextmanager

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from app.catalog.models import Trainer
from app.extensions import db
from app.forms import normalise_email
from app.staff import services
from app.staff.models import Role, StaffUser

staff_cli = AppGroup("staff", help="Les comptes de l'équipe (formateurs, coordinateurs).")

ROLES = {"coordinateur": Role.coordinator, "formateur": Role.trainer}


@contextmanager
def _committed_unless_refused():
    """The account's change is committed; a refused one leaves nothing behind and its French
    reason is the command's error message."""
    try:
        yield
        db.session.commit()
    except services.AccountRefused as refusal:
        db.session.rollback()
        raise click.ClickException(str(refusal)) from None


@staff_cli.command("create")
@click.option("--courriel", "email", required=True, help="Adresse, qui sert d'identifiant.")
@click.option("--nom", "full_name", help="Nom affiché (par défaut celui du formateur).")
@click.option("--role", type=click.Choice(sorted(ROLES)), required=True)
@click.password_option(
    "--mot-de-passe",
    "password",
    prompt="Mot de passe",
    confirmation_prompt="Confirmez le mot de passe",
)
def create_command(email, full_name, role, password):
    """Crée un compte. Un formateur doit exister dans le catalogue avec la même adresse."""
    role = ROLES[role]
    trainer = None
    if role is Role.trainer:
        trainer = db.session.scalar(
            sa.select(Trainer).where(sa.func.lower(Trainer.email) == normalise_email(email))
        )
        if trainer is None:
            raise click.ClickException(f"Aucun formateur du catalogue n'a l'adresse {email}.")
        full_name = full_name or trainer.full_name
    with _committed_unless_refused():
        user = services.create_account(email, full_name or "", role, password, trainer=trainer)
    click.echo(f"Compte créé : {user.email} ({user.role.title}).")


@staff_cli.command("password")
@click.option("--courriel", "email", required=True)
@click.password_option(
    "--mot-de-passe",
    "password",
    prompt="Nouveau mot de passe",
    confirmation_prompt="Confirmez le mot de passe",
)
def password_command(email, password):
    """Change le mot de passe d'un compte (ses sessions ouvertes se ferment)."""
    user = db.session.scalar(sa.select(StaffUser).where(StaffUser.email == normalise_email(email)))
    if user is None:
        raise click.ClickException(f"Aucun compte pour {email}.")
    with _committed_unless_refused():
        services.set_password(user, password)
    click.echo(f"Mot de passe changé pour {user.email}.")


@staff_cli.command("list")
def list_command():
    """Liste les comptes."""
    for user in db.session.scalars(sa.select(StaffUser).order_by(StaffUser.email)):
        state = "" if user.active else " (désactivé)"
        click.echo(f"{user.email}\t{user.role.title}\t{user.full_name}{state}")
