"""Flask CLI commands: `flask seed-demo`, `flask mail deliver`, `flask calendars …`,
`flask ateliers …`,
`flask staff …`."""

import click
from flask import Flask
from flask.cli import AppGroup

from app.booking.commands import workshops_cli
from app.booking.demo import register_demo_teachers
from app.calendars.commands import calendars_cli
from app.catalog.demo import seed_demo
from app.exchange.demo import seed_demo_half_day
from app.formatting import date_fr
from app.mail.delivery import deliver_pending
from app.staff.commands import staff_cli
from app.staff.services import seed_demo_accounts

mail_cli = AppGroup("mail", help="La boîte d'envoi.")


@click.command("seed-demo")
def seed_demo_command():
    """Crée les données de démonstration si la base est vide."""
    if (today := seed_demo()) is not None:
        register_demo_teachers(today)
        click.echo(
            "Données de démonstration créées : 3 sites, leurs salles, un trimestre d'ateliers."
        )
        if (half_day := seed_demo_half_day()) is not None:
            click.echo(
                f"Rencontres : « {half_day.title} » le {date_fr(half_day.starts_at)}, "
                f"appel à propositions ouvert (/admin/rencontres/{half_day.school_year})."
            )
    else:
        click.echo("La base contient déjà des données : rien n'a été ajouté.")
    click.echo("Comptes de démonstration (connexion sur /connexion) :")
    for email, password, role in seed_demo_accounts():
        click.echo(f"  {role.title} : {email} / mot de passe {password}")


@mail_cli.command("deliver")
def deliver_command():
    """Envoie les courriels en attente."""
    report = deliver_pending()
    click.echo(
        f"Courriels : {report.sent} envoyés, {report.retried} à réessayer, {report.failed} en échec."
    )
    if report.relay_refused:
        click.echo(
            f"Envoi arrêté, le serveur d'envoi refuse les courriels : {report.relay_refused}"
        )


def register(app: Flask) -> None:
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(mail_cli)
    app.cli.add_command(calendars_cli)
    app.cli.add_command(workshops_cli)
    app.cli.add_command(staff_cli)
