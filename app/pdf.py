"""HTML to PDF with WeasyPrint, from the same templates as the print views.

WeasyPrint must never fetch over HTTP (a dev server can deadlock on itself, the scheduler has no
server): `/static/…` links are read from the package's folder, and every other URL is refused.
It is imported on first use: it takes more than a second, which every web worker, CLI command
and scheduler start would otherwise pay. A web worker pays it just after it starts instead, in
the background (`warm_up`, from gunicorn's post_worker_init): not the coordinator who asks for
the figures or a poster first.
"""

from functools import cache
from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"


@cache
def _fetcher_class():
    from weasyprint import URLFetcher

    class StaticOnlyFetcher(URLFetcher):
        """Files under app/static and data: URLs; nothing from the network or elsewhere on disk."""

        def __init__(self):
            super().__init__(allowed_protocols=("file", "data"))

        def fetch(self, url, headers=None):
            if url.startswith("file:"):
                url = url.split("?")[0]  # a static file's version (`?v=…`) names no other file
                path = Path(url.removeprefix("file://")).resolve()
                if not path.is_relative_to(STATIC_DIR):
                    raise ValueError(f"PDF : fichier refusé hors de app/static ({path.name})")
            return super().fetch(url, headers)

    return StaticOnlyFetcher


def render_document(html: str):
    """The laid-out pages (a WeasyPrint Document: `.pages`, `.write_pdf()`) of an HTML page
    whose `/static/…` links resolve to files in app/static."""
    from weasyprint import HTML

    html = html.replace('="/static/', f'="{STATIC_DIR.as_uri()}/')
    return HTML(
        string=html, base_url=STATIC_DIR.as_uri() + "/", url_fetcher=_fetcher_class()()
    ).render()


def render_pdf(html: str) -> bytes:
    """The PDF of an HTML page whose `/static/…` links resolve to files in app/static."""
    return render_document(html).write_pdf()


def warm_up() -> None:
    """Import WeasyPrint and lay out a one-line page (fonts found, Pango and CSS set up): about
    a second, paid here rather than by the first PDF a person asks for."""
    render_pdf('<!doctype html><html lang="fr"><body><p>Ateliers TICE</p></body></html>')
