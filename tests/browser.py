"""What every browser test shares: Debian's Chromium driven by Playwright against a live server,
and `look`, which checks each page state a test visits with axe-core and keeps a screenshot of it.

Its fixtures are a pytest plugin (tests/conftest.py loads it): `browser`, `public_url`,
`new_page(viewport=…)`, `page` and `look` serve any test. A browser test module also takes the
live app with CSRF on, as production has it: `app = test_browser.app` and
`config_overrides = test_browser.config_overrides`.

`look(page, "catalogue")` runs axe-core (the npm package, installed by `make setup`) in the page:
any violation, whatever its impact, fails the test with the list of rules and elements. It also
writes a full-page screenshot to `build/screenshots/<module>/<test>/NN-catalogue.png` (or under
$SCREENSHOTS_DIR), so that anyone can see what each person saw. A page the test leaves (another
address loads in it) without having been looked at, or still unlooked at the end of the test,
fails the test at teardown: every page state a browser test visits is checked.
"""

import os
import re
import shutil
from pathlib import Path
from urllib.parse import urldefrag

import pytest

from app.extensions import db
from app.mail.delivery import deliver_pending
from tests.conftest import require

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(os.environ.get("SCREENSHOTS_DIR") or ROOT / "build" / "screenshots")

PHONE = {"width": 390, "height": 844}
TABLET = {"width": 768, "height": 1024}
DESKTOP = {"width": 1280, "height": 800}

NO_HORIZONTAL_SCROLL = (
    "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
)
#: axe-core's violations, each with the elements it found: what a failure message lists.
AXE_RUN = """async () => {
  const results = await axe.run(document, {resultTypes: ['violations']});
  return results.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => n.target.join(' ') + ' — ' + n.failureSummary.replace(/\\s+/g, ' ')),
  }));
}"""


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    require(os.path.exists(CHROMIUM), "Chromium is not installed (apt-get install chromium)")
    require(AXE.exists(), "axe-core is not installed (make setup)")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=10_000)  # a loaded machine (the whole suite, CI) is slower
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def public_url(live_app, live_server):
    """Mail links point at the live server, so the browser can follow them as a teacher would."""
    live_app.config["PUBLIC_BASE_URL"] = live_server.url
    return live_server.url


class Visits:
    """The pages a test opened and, for each, whether its current state has been looked at."""

    def __init__(self):
        self.unlooked: dict = {}  # page -> address loaded and not looked at yet
        self.left_unlooked: list[str] = []

    def follow(self, page) -> None:
        page.on("framenavigated", lambda frame: self._navigated(page, frame))

    def _navigated(self, page, frame) -> None:
        if frame != page.main_frame or frame.url == "about:blank":
            return
        before = self.unlooked.get(page)
        # A link to an anchor of the same page is the same page state, scrolled.
        if before is not None and urldefrag(before).url != urldefrag(frame.url).url:
            self.left_unlooked.append(before)
        self.unlooked[page] = frame.url

    def looked(self, page) -> None:
        self.unlooked.pop(page, None)


@pytest.fixture
def visits():
    return Visits()


@pytest.fixture
def new_page(browser, public_url, visits, look):
    """`new_page(viewport=…)`: a page in its own browser context (own cookies: another person)."""
    contexts = []

    def make(**options):
        context = browser.new_context(base_url=public_url, locale="fr-FR", **options)
        context.set_default_timeout(10_000)
        # Outside the page's own scripts and its Content-Security-Policy: defines `window.axe`.
        context.add_init_script(path=str(AXE))
        contexts.append(context)
        page = context.new_page()
        visits.follow(page)
        return page

    yield make
    try:
        for page in list(visits.unlooked):
            if not page.is_closed():
                look(page, "fin")  # the state the test ended on
        assert not visits.left_unlooked, (
            "pages visited without look(page, …) (axe-core and a screenshot): "
            + ", ".join(visits.left_unlooked)
        )
    finally:
        for context in contexts:
            context.close()


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture
def look(request, visits):
    """`look(page, name)`: axe-core finds nothing in the page as it is now; a screenshot of it."""
    folder = (
        SCREENSHOTS
        / request.node.module.__name__.rsplit(".", 1)[-1]
        / _file_name(request.node.name)
    )
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    taken = []

    def check(page, name: str) -> None:
        taken.append(name)
        path = folder / f"{len(taken):02d}-{_file_name(name)}.png"
        page.screenshot(path=path, full_page=True)
        violations = page.evaluate(AXE_RUN)
        visits.looked(page)
        assert not violations, f"axe-core, {name} ({page.url}, {path}):\n" + _listed(violations)

    return check


def _file_name(text: str) -> str:
    return re.sub(r"[^\w.-]+", "-", text).strip("-")[:80]


def _listed(violations: list[dict]) -> str:
    return "\n".join(
        f"- {v['id']} ({v['impact']}): {v['help']}\n" + "\n".join(f"    {n}" for n in v["nodes"])
        for v in violations
    )


# --- helpers -----------------------------------------------------------------------------------


def deliver():
    """What the scheduler's delivery job does: send the outbox over SMTP."""
    db.session.remove()  # start from fresh data, whatever the test's session read before
    report = deliver_pending()
    db.session.remove()
    assert not report.errors, report.errors
    return report


def text_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def assert_no_horizontal_scroll(page, what: str):
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert page.evaluate(NO_HORIZONTAL_SCROLL), f"{what}: scrolls sideways {widths}"
