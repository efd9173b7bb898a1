"""Figures for the steering committee (comité de pilotage) and the funder's reports.

For a school year (1 September – 31 August, Paris days) or any period of Paris days, overall and
broken down by site, level and topic. A workshop belongs to the period in which it starts. The
figures are defined in `app.admin.figures_definitions`, gathered by `app.admin.figures_queries`,
summed into lines by `app.admin.figures_lines`; `report(period)` puts them together for the page,
the PDF report and the CSV export.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from app.admin.figures_lines import Line
from app.admin.figures_queries import site_names, workshop_facts
from app.catalog.models import Level
from app.clock import now
from app.formatting import Period, folded


@dataclass
class Breakdown:
    """The lines of one dimension: sites, levels or topics."""

    key: str
    #: "Site", "Niveau", "Thème": the column's heading.
    dimension: str
    #: "par site"…
    title: str
    lines: list[Line]


@dataclass
class Report:
    period: Period
    #: When the figures were computed: "held" means ended before this moment.
    computed_at: datetime
    overall: Line
    breakdowns: list[Breakdown]


def report(period: Period) -> Report:
    """Every figure of the period, overall and by site, level and topic (six queries)."""
    moment = now()
    workshops = workshop_facts(period, moment)
    sites = site_names()

    overall = Line("Ensemble")
    by_site = {site_id: Line(name) for site_id, name in sites}
    by_level = {level: Line(level.title) for level in Level}
    by_topic: dict[int, Line] = {}
    for w in workshops.values():
        overall.add(w)
        by_site[w.site_id].add(w)
        by_level[w.level].add(w)
        by_topic.setdefault(w.topic_id, Line(w.topic_name)).add(w)
    return Report(
        period=period,
        computed_at=moment,
        overall=overall,
        breakdowns=[
            Breakdown("site", "Site", "par site", _sorted(by_site.values())),
            Breakdown("level", "Niveau", "par niveau", list(by_level.values())),
            Breakdown("topic", "Thème", "par thème", _sorted(by_topic.values())),
        ],
    )


def _sorted(lines: Iterable[Line]) -> list[Line]:
    """Alphabetical as a French reader expects it, the same on every database."""
    return sorted(lines, key=lambda line: (folded(line.label), line.label))
