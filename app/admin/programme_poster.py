"""The A4 poster of one site's programme, to pin up in schools: every workshop with a QR code to
its page, and one to the site's catalogue, each link marked `?source=affiche`."""

from dataclasses import dataclass

import segno
from flask import render_template

from app.admin.programme_content import programme, public_url
from app.admin.programme_request import ProgrammeRefused
from app.booking.models import Source
from app.catalog.models import Site
from app.formatting import Period, of_place
from app.pdf import render_document

#: The printed width of a QR code's symbol, its quiet zone (in modules) added around it: big
#: enough for a phone held at arm's length in front of a poster.
WORKSHOP_QR_MM = 22
CATALOGUE_QR_MM = 45
QR_QUIET_ZONE = 4


@dataclass(frozen=True)
class QrCode:
    """A QR code to print: inline SVG whose width includes the quiet zone."""

    url: str
    svg: str
    #: Printed width of the whole image, and of the symbol inside its quiet zone.
    width_mm: float
    symbol_mm: float


def qr_code(url: str, symbol_mm: float) -> QrCode:
    """Error correction M at least (segno raises it when that costs no size), a full quiet zone,
    and a symbol `symbol_mm` wide once printed."""
    code = segno.make_qr(url, error="m")
    modules = code.symbol_size(border=0)[0]
    width = symbol_mm * (modules + 2 * QR_QUIET_ZONE) / modules
    svg = code.svg_inline(
        border=QR_QUIET_ZONE,
        omitsize=True,
        dark="#000",
        light="#fff",
        svgclass="qr",
        title=url,
    )
    return QrCode(url=url, svg=svg, width_mm=round(width, 2), symbol_mm=symbol_mm)


#: How the poster lays out its workshops, by their number, so that it always fits one A4 page:
#: up to FULL_MAX one per row with a QR code, up to GRID_MAX two per row with smaller type and
#: their QR codes, beyond that two columns of text only (the site's code leads to them all), at
#: most LIST_MAX of them, then "et N autres ateliers".
FULL_MAX = 5
GRID_MAX = 12
LIST_MAX = 30


def _listed(site: Site, period: Period):
    listed = programme(period, [site], Source.poster)
    if listed.empty:
        raise ProgrammeRefused(
            f"Aucun atelier publié à venir sur le site {of_place(site.name)} {period.short_label} : "
            "pas d'affiche à imprimer. Choisissez une autre période."
        )
    return listed.sites[0]


def _layout(count: int) -> str:
    if count <= FULL_MAX:
        return "full"
    return "grid" if count <= GRID_MAX else "list"


def _html(part, period: Period, shown: int) -> str:
    lines = part.lines
    layout = _layout(len(lines))
    visible = lines[:shown]
    # Two columns: the first half of the workshops on the left, the rest on the right.
    half = (len(visible) + 1) // 2
    rows = [
        (visible[i], visible[i + half] if i + half < len(visible) else None) for i in range(half)
    ]
    return render_template(
        "admin/programme_poster.html",
        part=part,
        period=period,
        layout=layout,
        lines=visible,
        rows=rows,
        hidden=len(lines) - len(visible),
        catalogue=qr_code(part.catalogue_link, CATALOGUE_QR_MM),
        # What a reader without a camera types: no scheme, no source marker.
        typed_address=public_url("/ateliers", site=part.site.slug).split("://", 1)[-1],
        codes={}
        if layout == "list"
        else {line.workshop.id: qr_code(line.link, WORKSHOP_QR_MM) for line in visible},
    )


def poster_html(site: Site, period: Period) -> str:
    """The A4 poster of one site, as HTML for WeasyPrint; ProgrammeRefused when it would be
    empty."""
    part = _listed(site, period)
    return _html(part, period, min(len(part.lines), LIST_MAX))


def poster_pdf(site: Site, period: Period) -> bytes:
    """The poster on one A4 page, whatever the number of workshops: when long titles would push
    it onto a second page, as many of the first workshops as fit are shown, then "et N autres
    ateliers" (the most that fit, found by halving)."""
    part = _listed(site, period)
    shown = min(len(part.lines), LIST_MAX)
    document = render_document(_html(part, period, shown))
    if len(document.pages) == 1:
        return document.write_pdf()
    fits, fitting, too_many = None, 0, shown
    while too_many - fitting > 1:
        middle = (fitting + too_many) // 2
        attempt = render_document(_html(part, period, middle))
        if len(attempt.pages) == 1:
            fits, fitting = attempt, middle
        else:
            too_many = middle
    return (fits or render_document(_html(part, period, 1))).write_pdf()


def poster_filename(site: Site, period: Period) -> str:
    """'affiche-amiens-2026-03-02_2026-04-30.pdf' (site slugs are ASCII). The dates are joined by
    "_", not by the figures' "-au-" (`Period.slug`): posters' file names stay as published."""
    return f"affiche-{site.slug}-{period.first_day.isoformat()}_{period.last_day.isoformat()}.pdf"
