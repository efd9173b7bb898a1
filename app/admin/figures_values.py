"""A figure's value as French readers read it: on the page and in the PDF ('1 234', '84,6 %',
'24 h', '3,6 / 5', '—'), and in a French spreadsheet (decimal comma, no thousands separator)."""

from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import format_decimal

from app.admin.figures_definitions import NOT_APPLICABLE, Figure
from app.formatting import LOCALE, count_fr


def display(figure: Figure, value) -> str:
    """A value as a French reader reads it: '1 234', '84,6 %', '24 h', '3,6 / 5', '—'."""
    if value is None:
        return NOT_APPLICABLE
    if figure.kind == "rate":
        return percent_text(value)
    if figure.kind == "hours":
        return f"{_decimal(value, 1, drop_zero=True)}\u00a0h"
    if figure.kind == "mean":
        return f"{_decimal(value, 1)}\u00a0/\u00a05"
    return count_fr(value)


def percent_text(fraction: float) -> str:
    return f"{_decimal(fraction * 100, 1, drop_zero=True)}\u00a0%"


def spreadsheet_number(kind: str, value) -> str:
    """A value of a figure of this kind for a French spreadsheet: decimal comma, no thousands
    separator, rates (and shares) in percent; empty when it cannot be computed."""
    if value is None:
        return ""
    if kind == "count":
        return str(value)
    if kind == "rate":
        return _decimal(value * 100, 1, grouping=False, drop_zero=True)
    return _decimal(value, 2, grouping=False, drop_zero=True)


def unit(figure: Figure) -> str:
    return {"count": "nombre", "rate": "%", "hours": "heures", "mean": "sur 5"}[figure.kind]


def _decimal(value: float, places: int, *, grouping: bool = True, drop_zero: bool = False) -> str:
    """Rounded half up, as people round (18,75 gives 18,8), in French; `drop_zero` writes
    100 rather than 100,0."""
    rounded = Decimal(repr(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    integer = "#,##0" if grouping else "0"
    fraction = ("#" if drop_zero else "0") * places
    return format_decimal(rounded, f"{integer}.{fraction}", locale=LOCALE)
