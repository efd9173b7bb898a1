"""`flask calendars lien-formateur <email>`: a trainer's feed link, until staff accounts exist."""

import click
from flask.cli import AppGroup

from app.calendars import services

calendars_cli = AppGroup("calendars", help="Les calendriers.")


@calendars_cli.command("lien-formateur")
@click.argument("email")
def trainer_link_command(email: str):
    """Crée un lien d'abonnement au calendrier des sessions d'un formateur et l'affiche."""
    url = services.trainer_feed_link(email)
    if url is None:
        raise click.ClickException(f"Aucun formateur n'a l'adresse « {email} ».")
    click.echo(url)
