"""What the figures' page and PDF report show beyond the numbers: the charts, as bars whose
lengths compare within a chart (rates on a 0–100 % scale so that they compare across charts too),
each with its table for those who do not see the bars."""

from dataclasses import dataclass

from app.admin.figures_definitions import FIGURES, FIGURES_BY_KEY, GROUPS, KEY_FIGURES
from app.admin.figures_lines import Line
from app.admin.figures_report import Breakdown, Report

#: The figures charted for each breakdown (every figure is in the tables).
CHARTED = ("held", "fill_rate", "attendance_rate", "hours_delivered")
#: The distributions charted for the whole period.
CHARTED_DISTRIBUTIONS = ("sources", "level_fit", "will_use")


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


def context(report: Report) -> dict:
    """What the page and the PDF templates are given: the report, the definitions, the charts."""
    return dict(
        report=report,
        FIGURES=FIGURES,
        GROUPS=GROUPS,
        KEY_FIGURES=[FIGURES_BY_KEY[key] for key in KEY_FIGURES],
        breakdown_charts={b.key: _breakdown_charts(b) for b in report.breakdowns},
        distribution_charts=[
            _distribution_chart(report.overall, key) for key in CHARTED_DISTRIBUTIONS
        ],
    )


def _breakdown_charts(breakdown: Breakdown) -> list[Chart]:
    charts = []
    for key in CHARTED:
        figure = FIGURES_BY_KEY[key]
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


def _distribution_chart(line: Line, key: str) -> Chart:
    figure = FIGURES_BY_KEY[key]
    counts = line.value(key)
    scale = max(counts.values()) or 1
    bars = [
        Bar(title, counts[category] / scale, line.category_text(key, category))
        for category, title in figure.categories
    ]
    return Chart(
        f"graphique-{key}", figure.label, "Réponse" if key != "sources" else "Origine", bars
    )
