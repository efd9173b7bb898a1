"""CSV for a French spreadsheet, as every export writes it (attendance sheets, the committee's
figures, the exchange half-day's attendees).

Names and schools in a CSV are what people typed: a cell a spreadsheet would run as a formula is
neutralised, so bad input changes nothing, not even on a coordinator's computer.
"""

import csv
import io

#: What a spreadsheet may take for the start of a formula (or of a cell it re-reads as one).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_csv(header: list[str], rows: list[list[str]]) -> bytes:
    """A CSV a French spreadsheet opens right with a double click: UTF-8 with a BOM (or Excel
    reads it as Windows-1252), semicolons (the comma is the decimal separator), CRLF, and no
    cell it would run as a formula."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([neutralise(cell) for cell in header])
    writer.writerows([neutralise(cell) for cell in row] for row in rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def neutralise(cell: str) -> str:
    """A cell a spreadsheet would read as a formula gets a leading apostrophe: shown as text."""
    return f"'{cell}" if cell.startswith(FORMULA_STARTS) else cell
