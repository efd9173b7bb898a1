"""The calendars page, the public feeds, one workshop's file and a trainer's feed."""

from flask import Blueprint, abort, render_template

from app.calendars import services
from app.calendars.http import ics_response

blueprint = Blueprint("calendars", __name__, template_folder="templates")


@blueprint.get("/calendriers")
def index():
    feeds = services.public_feeds()
    return render_template(
        "calendars/index.html",
        groups=[
            ("Tous les ateliers", [f for f in feeds if f.kind == services.ALL]),
            ("Par site", [f for f in feeds if f.kind == "site"]),
            ("Par niveau", [f for f in feeds if f.kind == "niveau"]),
            ("Par thème", [f for f in feeds if f.kind == "theme"]),
        ],
        links={f.slug: services.subscription_links(f.path, f.name) for f in feeds},
    )


@blueprint.get("/calendriers/<slug>.ics")
def feed(slug: str):
    rendered = services.render_public_feed(slug)
    if rendered is None:
        abort(404)
    return ics_response(rendered)


@blueprint.get("/calendriers/formateur/<token>.ics")
def trainer_feed(token: str):
    rendered = services.trainer_feed(token)
    if rendered is None:
        abort(404)
    return ics_response(rendered, private=True)


@blueprint.get("/ateliers/<int:workshop_id>.ics")
def workshop_file(workshop_id: int):
    rendered = services.workshop_file(workshop_id)
    if rendered is None:
        abort(404)
    return ics_response(rendered, filename=f"atelier-{workshop_id}.ics")
