"""The steering committee's figures (coordinators only): the page at /admin/chiffres, its CSV, and
the PDF report for Somme Numérique — one report, one template body, three forms.

The routes sit under /admin because /admin/chiffres.csv and .pdf are siblings of /admin/chiffres,
which a blueprint prefixed /admin/chiffres could not route ("/admin/chiffres/.csv").
"""

from dataclasses import dataclass

from flask import Blueprint, Response, render_template, request

from app.admin import figures
from app.formatting import Period, PeriodError, current_school_year
from app.pdf import render_pdf
from app.spreadsheet import spreadsheet_csv
from app.staff.access import coordinator_required

blueprint = Blueprint("figures", __name__, url_prefix="/admin", template_folder="templates")

#: The figures charted for each breakdown (every figure is in the tables).
CHARTED = ("held", "fill_rate", "attendance_rate", "hours_delivered")
#: The distributions charted for the whole period.
CHARTED_DISTRIBUTIONS = ("sources", "level_fit", "will_use")


@blueprint.get("/chiffres")
@coordinator_required
def page():
    try:
        period, error = _asked_period(), None
    except PeriodError as refused:
        period = Period.of_school_year(current_school_year())
        error = f"{refused} Voici les chiffres de l'année scolaire en cours."
    return render_template(
        "admin/figures.html",
        error=error,
        school_years=figures.selectable_school_years(),
        **_context(figures.report(period)),
    )


@blueprint.get("/chiffres.csv")
@coordinator_required
def csv_export():
    try:
        report = figures.report(_asked_period())
    except PeriodError as refused:
        return _refused(refused)
    return _download(
        _csv_bytes(report), "text/csv; charset=utf-8", f"chiffres-{report.period.slug}.csv"
    )


@blueprint.get("/chiffres.pdf")
@coordinator_required
def pdf_report():
    try:
        report = figures.report(_asked_period())
    except PeriodError as refused:
        return _refused(refused)
    pdf = render_pdf(render_template("admin/figures_pdf.html", **_context(report)))
    return _download(pdf, "application/pdf", f"chiffres-{report.period.slug}.pdf")


def _asked_period() -> Period:
    args = request.args
    return figures.parse_period(args.get("annee"), args.get("du"), args.get("au"))


def _refused(error: PeriodError):
    return render_template(
        "error.html", title="Période non reconnue", message=str(error), code=400
    ), 400


def _download(data: bytes, content_type: str, filename: str) -> Response:
    response = Response(data, content_type=content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --- what the templates show -------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    label: str
    #: The bar's length, 0 to 1 of the chart's width.
    length: float
    #: What is written on the bar.
    text: str


@dataclass(frozen=True)
class Chart:
    #: Unique on the page (the SVG's title is referenced by id).
    id: str
    title: str
    #: The table's first column heading.
    dimension: str
    bars: list[Bar]


def _context(report: figures.Report) -> dict:
    return dict(
        report=report,
        FIGURES=figures.FIGURES,
        GROUPS=figures.GROUPS,
        KEY_FIGURES=[figures.FIGURES_BY_KEY[key] for key in figures.KEY_FIGURES],
        breakdown_charts={b.key: _breakdown_charts(b) for b in report.breakdowns},
        distribution_charts=[
            _distribution_chart(report.overall, key) for key in CHARTED_DISTRIBUTIONS
        ],
    )


def _breakdown_charts(breakdown: figures.Breakdown) -> list[Chart]:
    charts = []
    for key in CHARTED:
        figure = figures.FIGURES_BY_KEY[key]
        values = [line.value(key) for line in breakdown.lines]
        # Rates on a 0–100 % scale, so that bars compare across charts; counts to their largest.
        scale = (
            max([v for v in values if v is not None] + [1.0 if figure.kind == "rate" else 0]) or 1
        )
        bars = [
            Bar(line.label, (value or 0) / scale, line.text(key))
            for line, value in zip(breakdown.lines, values, strict=True)
        ]
        charts.append(
            Chart(
                f"graphique-{breakdown.key}-{key}",
                f"{figure.label} {breakdown.title}",
                breakdown.dimension,
                bars,
            )
        )
    return charts


def _distribution_chart(line: figures.Line, key: str) -> Chart:
    figure = figures.FIGURES_BY_KEY[key]
    counts = line.value(key)
    scale = max(counts.values()) or 1
    bars = [
        Bar(title, counts[category] / scale, line.category_text(key, category))
        for category, title in figure.categories
    ]
    return Chart(
        f"graphique-{key}", figure.label, "Réponse" if key != "sources" else "Origine", bars
    )


def _csv_bytes(report: figures.Report) -> bytes:
    """One row per line (overall, then each site, level, topic) and figure; a distribution gives
    a count row and a share row per category."""
    header = ["Période", "Ventilation", "Ligne", "Indicateur", "Valeur", "Unité"]
    lines = [("Ensemble", report.overall)] + [
        (breakdown.dimension, line) for breakdown in report.breakdowns for line in breakdown.lines
    ]
    rows = []
    for dimension, line in lines:
        start = [report.period.label, dimension, line.label]
        for figure in figures.FIGURES:
            value = line.value(figure.key)
            if figure.kind != "distribution":
                rows.append(
                    [
                        *start,
                        figure.label,
                        figures.spreadsheet_number(figure.kind, value),
                        figures.unit(figure),
                    ]
                )
                continue
            for category, title in figure.categories:
                label = f"{figure.label} : {title}"
                rows.append([*start, label, str(value[category]), "nombre"])
                rows.append(
                    [
                        *start,
                        f"{label} (part)",
                        figures.spreadsheet_number("rate", line.share(figure.key, category)),
                        "%",
                    ]
                )
    return spreadsheet_csv(header, rows)
