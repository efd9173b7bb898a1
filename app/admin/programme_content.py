"""The programme: the published workshops of a period at some sites, grouped by site then day,
with their seats left. The mail (`app.admin.programme_mail`) and the posters
(`app.admin.programme_poster`) are two renderings of it.

Every link carries a source marker (`?source=liste` in the mail, `?source=affiche` on posters)
that rides into the registration and the figures, and is built from PUBLIC_BASE_URL: the links
leave the service in mails and on paper.
"""

from dataclasses import dataclass, field
from datetime import date
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import joinedload

from app.admin.programme_request import ProgrammeRefused
from app.booking.models import Source
from app.booking.services import REGISTRATIONS
from app.catalog.models import Room, Site, Workshop, WorkshopStatus
from app.clock import now
from app.extensions import db
from app.formatting import Period, of_place, to_paris
from app.seats.ledger import SeatCount


def programme_link(workshop: Workshop, source: Source | str) -> str:
    """The workshop's public page with its source marker: what a mail or a QR code points to."""
    return public_url(f"/ateliers/{workshop.id}", source=Source(source).value)


def catalogue_link(source: Source | str, site: Site | None = None) -> str:
    """The catalogue (of one site, when given), with the source marker."""
    args = {"site": site.slug} if site is not None else {}
    return public_url("/ateliers", **args, source=Source(source).value)


def public_url(path: str, **args: str) -> str:
    return f"{current_app.config['PUBLIC_BASE_URL']}{path}?{urlencode(args)}"


@dataclass(frozen=True)
class Line:
    """One workshop of the programme."""

    workshop: Workshop
    seats: SeatCount
    #: Its page with the source marker of the medium (mail or poster).
    link: str

    @property
    def seats_text(self) -> str:
        left = self.seats.left
        if left == 0:
            return "Complet : inscription en liste d'attente"
        return f"{left} place restante" if left == 1 else f"{left} places restantes"


@dataclass(frozen=True)
class Day:
    day: date
    lines: list[Line]


@dataclass(frozen=True)
class SiteProgramme:
    site: Site
    days: list[Day]
    #: The site's catalogue, with the source marker.
    catalogue_link: str

    @property
    def lines(self) -> list[Line]:
        return [line for day in self.days for line in day.lines]

    @property
    def name_with_de(self) -> str:
        """'d'Amiens', 'de Péronne': "le site d'Amiens"."""
        return of_place(self.site.name)


@dataclass(frozen=True)
class Programme:
    period: Period
    #: The chosen sites that have workshops in the period, in the catalogue's order.
    sites: list[SiteProgramme]
    #: The whole catalogue, with the source marker.
    catalogue_link: str
    #: Chosen sites without any workshop in the period.
    empty_sites: list[Site] = field(default_factory=list)

    @property
    def lines(self) -> list[Line]:
        return [line for site in self.sites for line in site.lines]

    @property
    def empty(self) -> bool:
        return not self.sites


def workshops_in(period: Period, sites: list[Site]) -> list[Workshop]:
    """Published workshops of these sites starting in the period and not started yet (nobody can
    register to those any more), by date."""
    query = (
        sa.select(Workshop)
        .join(Workshop.room)
        .options(
            joinedload(Workshop.room).joinedload(Room.site),
            joinedload(Workshop.topic),
        )
        .where(
            Workshop.status == WorkshopStatus.published,
            Room.site_id.in_([site.id for site in sites]),
            Workshop.starts_at >= period.starts_at,
            Workshop.starts_at < period.ends_at,
            Workshop.starts_at > now(),
        )
        .order_by(Workshop.starts_at, Workshop.id)
    )
    return list(db.session.scalars(query).unique())


def programme(
    period: Period,
    sites: list[Site],
    source: Source | str = Source.mailing_list,
) -> Programme:
    """The workshops of the period at these sites, grouped by site then day, links for `source`."""
    workshops = workshops_in(period, sites)
    seats = REGISTRATIONS.counts(workshops)
    by_site: dict[int, dict[date, list[Line]]] = {site.id: {} for site in sites}
    for workshop in workshops:
        line = Line(workshop, seats[workshop.id], programme_link(workshop, source))
        day = to_paris(workshop.starts_at).date()
        by_site[workshop.room.site_id].setdefault(day, []).append(line)
    ordered = sorted(sites, key=lambda site: (site.name, site.id))
    return Programme(
        period=period,
        sites=[
            SiteProgramme(
                site,
                [Day(day, lines) for day, lines in by_site[site.id].items()],
                catalogue_link(source, site),
            )
            for site in ordered
            if by_site[site.id]
        ],
        catalogue_link=catalogue_link(source),
        empty_sites=[site for site in ordered if not by_site[site.id]],
    )


def refuse_empty(listed: Programme) -> None:
    if listed.empty:
        names = ", ".join(site.name for site in listed.empty_sites)
        raise ProgrammeRefused(
            f"Aucun atelier publié à venir {listed.period.short_label} ({names}) : "
            "rien à envoyer. Publiez des ateliers ou choisissez une autre période."
        )
