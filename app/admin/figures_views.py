"""The steering committee's figures (coordinators only): the page at /admin/chiffres, its CSV, and
the PDF report for Somme Numérique — one report, one template body, three forms.

The routes sit under /admin because /admin/chiffres.csv and .pdf are siblings of /admin/chiffres,
which a blueprint prefixed /admin/chiffres could not route ("/admin/chiffres/.csv").
"""

from flask import Blueprint, Response, render_template, request

from app.admin.figures_export import csv_bytes
from app.admin.figures_page import context
from app.admin.figures_period import parse_period, selectable_school_years
from app.admin.figures_report import report
from app.formatting import Period, PeriodError, current_school_year
from app.pdf import render_pdf
from app.staff.access import coordinator_required

blueprint = Blueprint("figures", __name__, url_prefix="/admin", template_folder="templates")


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
        school_years=selectable_school_years(),
        **context(report(period)),
    )


@blueprint.get("/chiffres.csv")
@coordinator_required
def csv_export():
    try:
        figures = report(_asked_period())
    except PeriodError as refused:
        return _refused(refused)
    return _download(
        csv_bytes(figures), "text/csv; charset=utf-8", f"chiffres-{figures.period.slug}.csv"
    )


@blueprint.get("/chiffres.pdf")
@coordinator_required
def pdf_report():
    try:
        figures = report(_asked_period())
    except PeriodError as refused:
        return _refused(refused)
    pdf = render_pdf(render_template("admin/figures_pdf.html", **context(figures)))
    return _download(pdf, "application/pdf", f"chiffres-{figures.period.slug}.pdf")


def _asked_period() -> Period:
    args = request.args
    return parse_period(args.get("annee"), args.get("du"), args.get("au"))


def _refused(error: PeriodError):
    return render_template(
        "error.html", title="Période non reconnue", message=str(error), code=400
    ), 400


def _download(data: bytes, content_type: str, filename: str) -> Response:
    response = Response(data, content_type=content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
