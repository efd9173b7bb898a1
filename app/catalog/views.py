"""The public catalogue: the home page and the filtered list. One workshop's page, with its
registration form, is booking's (`app.booking.views`)."""

from flask import Blueprint, render_template, request

from app.catalog import services
from app.catalog.models import Level, Workshop
from app.clock import now
from app.formatting import month_fr, to_paris
from app.seats.ledger import ledger_for

blueprint = Blueprint("catalog", __name__, template_folder="templates")


@blueprint.get("/")
def home():
    return _catalogue("catalog/home.html")


@blueprint.get("/ateliers")
def workshops():
    return _catalogue("catalog/list.html")


def _catalogue(template: str):
    sites, topics = services.sites(), services.topics()
    filters = services.CatalogFilters.from_args(request.args, sites=sites, topics=topics)
    workshops = services.upcoming_workshops(filters, known_sites=sites, known_topics=topics)
    return render_template(
        template,
        filters=filters,
        workshops=workshops,
        by_month=_by_month(workshops),
        seats=ledger_for(Workshop).counts(workshops),
        sites=sites,
        topics=topics,
        levels=list(Level),
        months=_month_choices(filters),
    )


def _by_month(workshops) -> list[tuple[str, str, list]]:
    """[("2026-03", "mars 2026", [workshops…]), …], in the order given."""
    groups: dict[tuple[int, int], list] = {}
    for workshop in workshops:
        local = to_paris(workshop.starts_at)
        groups.setdefault((local.year, local.month), []).append(workshop)
    return [(f"{y}-{m:02d}", month_fr(y, m), items) for (y, m), items in groups.items()]


def _month_choices(filters) -> list[tuple[str, str]]:
    """The next twelve months, and the requested one if it is not among them."""
    today = to_paris(now())
    months = []
    for offset in range(12):
        index = today.month - 1 + offset
        months.append((today.year + index // 12, index % 12 + 1))
    if filters.month and filters.month not in months:
        months.append(filters.month)
    return [(f"{y}-{m:02d}", month_fr(y, m)) for y, m in months]
