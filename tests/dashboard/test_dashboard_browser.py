"""The dashboard in a real browser: Debian's Chromium, driven by Playwright, on `nas dashboard`.

A user opens a study from the Studies page, clicks a point of the Pareto
front, sees that trial's architecture, and follows it to the Architecture page.
"""

from __future__ import annotations

import re
from pathlib import Path

import optuna
import pytest

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
TIMEOUT_MS = 60_000


@pytest.fixture
def browser_page():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `bash .ci/chromium.sh` (make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                             args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1600})
            page.set_default_timeout(TIMEOUT_MS)
            yield page
        finally:
            browser.close()


def test_open_a_study_pick_a_pareto_point_and_see_its_architecture(
    dashboard_store, serve_dashboard, browser_page, tmp_path
):
    study = optuna.load_study(study_name="nb201-two", storage=dashboard_store)
    front = {t.number: t for t in study.best_trials}
    base, _ = serve_dashboard(dashboard_store)
    page = browser_page

    page.goto(base + "/")
    page.get_by_role("link", name="Open nb201-two").click()
    page.wait_for_url(re.compile(r"/study\?study=nb201-two"))
    page.get_by_text(f"{len(front)} Pareto-optimal of").wait_for()
    # The sidebar's preload ran, and it and Streamlit's own import shared one copy of
    # Plotly's chunk (fetched once, so evaluated once).
    assert page.evaluate("() => typeof window.__nasPlotlyPreload") == "number"
    assert page.evaluate("() => performance.getEntriesByType('resource')"
                         ".filter(r => r.name.includes('/PlotlyChart.')).length") == 1

    # Click a red Pareto marker as a user would (through Plotly's drag layer, which
    # covers the markers): the one with a faded, dominated point nearest to it, the
    # hardest to hit.
    plot = page.locator(".js-plotly-plot").first
    red = plot.locator("path.point[style*='rgb(214, 39, 40)']")
    red.first.wait_for()
    assert red.count() == len(front)
    faded = [_centre(p) for p in plot.locator("path.point[style*='rgba(31, 119, 180']").all()]
    x, y = min((_centre(p) for p in red.all()),
               key=lambda c: min((abs(c[0] - f[0]) + abs(c[1] - f[1]) for f in faded),
                                 default=0.0))
    page.mouse.move(x, y)
    page.mouse.click(x, y)

    header = page.get_by_text(re.compile(r"^Trial \d+ · state COMPLETE")).first
    header.wait_for()
    number = int(re.match(r"Trial (\d+)", header.inner_text()).group(1))
    assert number in front
    page.get_by_text("cell node 1").first.wait_for()
    page.screenshot(path=tmp_path / "study-selected.png")

    page.get_by_role("link", name=f"Open trial {number} on the Architecture page").click()
    page.wait_for_url(re.compile(rf"/architecture\?study=nb201-two&trial={number}$"))
    page.get_by_role("button", name=f"Export trial {number}").wait_for()
    diagram = page.locator(".js-plotly-plot").first
    diagram.get_by_text("cell node 3").wait_for()
    chosen = front[number].params
    for edge, (target, source) in {"edge_0": (1, 0), "edge_5": (3, 2)}.items():
        if chosen[edge] != "none":
            diagram.get_by_text(f"{source}→{target}: {chosen[edge]}").wait_for()
    shot = tmp_path / "architecture.png"
    page.screenshot(path=shot, full_page=True)
    assert shot.stat().st_size > 10_000


def _centre(locator) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    box = locator.bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
