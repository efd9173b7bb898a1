"""The committee's figures as a CSV for a French spreadsheet: one row per line and figure, so that
a pivot table or a filter gives any cut of them."""

from app.admin.figures_definitions import FIGURES
from app.admin.figures_report import Report
from app.admin.figures_values import spreadsheet_number, unit
from app.spreadsheet import spreadsheet_csv


def csv_bytes(report: Report) -> bytes:
    """One row per line (overall, then each site, level, topic) and figure; a distribution gives
    a count row and a share row per category."""
    header = ["Période", "Ventilation", "Ligne", "Indicateur", "Valeur", "Unité"]
    lines = [("Ensemble", report.overall)] + [
        (breakdown.dimension, line) for breakdown in report.breakdowns for line in breakdown.lines
    ]
    rows = []
    for dimension, line in lines:
        start = [report.period.label, dimension, line.label]
        for figure in FIGURES:
            value = line.value(figure.key)
            if figure.kind != "distribution":
                rows.append(
                    [
                        *start,
                        figure.label,
                        spreadsheet_number(figure.kind, value),
                        unit(figure),
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
                        spreadsheet_number("rate", line.share(figure.key, category)),
                        "%",
                    ]
                )
    return spreadsheet_csv(header, rows)
