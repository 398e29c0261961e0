"""The dashboard in a real browser: Debian's Chromium, driven by Playwright, on `nas dashboard`.

A user opens a study from the Studies page, clicks a point of the Pareto
front, sees that trial's architecture, and follows it to the Architecture page.
"""

from __future__ import annotations

import os
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
    floor = 1.0 / study.user_attrs["num_classes"]  # chance level: no model at it joins the front
    front = {t.number: t for t in study.best_trials if t.values[0] > floor}
    base, _ = serve_dashboard(dashboard_store)
    page = browser_page
    # Chromium keeps 250 resource-timing entries by default and drops later ones; a
    # Streamlit page loads about that many, so the Plotly chunk could go unrecorded.
    page.add_init_script("performance.setResourceTimingBufferSize(100000)")

    page.goto(base + "/")
    page.get_by_role("link", name="Open nb201-two").click()
    page.wait_for_url(re.compile(r"/study\?study=nb201-two"))
    page.get_by_text(f"{len(front)} Pareto-optimal of").wait_for()
    # The sidebar's preload ran, and it and Streamlit's own import shared one copy of
    # Plotly's chunk (fetched once, so evaluated once).
    assert page.evaluate("() => typeof window.__nasPlotlyPreload") == "number"
    plotly_chunks = ("() => performance.getEntriesByType('resource')"
                     ".filter(r => r.name.includes('/PlotlyChart.')).length")
    page.wait_for_function(f"({plotly_chunks})() >= 1")
    assert page.evaluate(plotly_chunks) == 1

    # Click a red Pareto marker as a user would (through Plotly's drag layer, which
    # covers the markers): the one with a faded, dominated point nearest to it, the
    # hardest to hit.
    plot = page.locator(".js-plotly-plot").first
    red = plot.locator("path.point[style*='rgb(214, 39, 40)']")
    red.first.wait_for()
    assert red.count() == len(front)
    header = page.get_by_text(re.compile(r"^Trial \d+ · state COMPLETE")).first
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    # A click that lands while Plotly still lays the chart out selects nothing, and a user
    # clicks again: up to three clicks, each at the marker's position at that moment.
    for attempt in range(3):
        faded = [_centre(p) for p in plot.locator("path.point[style*='rgba(31, 119, 180']").all()]
        x, y = min((_centre(p) for p in red.all()),
                   key=lambda c: min((abs(c[0] - f[0]) + abs(c[1] - f[1]) for f in faded),
                                     default=0.0))
        page.mouse.move(x, y)
        page.mouse.click(x, y)
        try:
            header.wait_for(timeout=20_000)
            break
        except PlaywrightTimeout:
            if attempt == 2:
                raise
    number = int(re.match(r"Trial (\d+)", header.inner_text()).group(1))
    assert number in front
    page.get_by_text("searched cell × 15").first.wait_for()
    page.screenshot(path=tmp_path / "study-selected.png")

    page.get_by_role("link", name=f"Open trial {number} on the Architecture page").click()
    page.wait_for_url(re.compile(rf"/architecture\?study=nb201-two&trial={number}$"))
    page.get_by_role("button", name=f"Export trial {number}").wait_for()
    page.locator(".js-plotly-plot").first.get_by_text("searched cell × 15").wait_for()
    # The cell as its graph: nodes 0 to 3, one arrow and one op label per edge.
    cell = page.locator(".js-plotly-plot").nth(1)
    cell.get_by_text("output").wait_for()
    assert sorted(cell.locator(".scatterlayer text").all_text_contents()) == ["0", "1", "2", "3"]
    ops = {"nor_conv_3x3": "conv 3×3", "nor_conv_1x1": "conv 1×1", "avg_pool_3x3": "avg pool 3×3",
           "skip_connect": "skip", "none": "none"}
    chosen = front[number].params
    labels = [t for t in cell.locator(".annotation-text").all_text_contents() if t]
    assert sorted(labels) == sorted([ops[chosen[f"edge_{i}"]] for i in range(6)]
                                    + ["input", "output"])
    shot = tmp_path / "architecture.png"
    page.screenshot(path=shot, full_page=True)
    assert shot.stat().st_size > 10_000


def _centre(locator) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    box = locator.bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


# -- every page at 1280 × 800: screenshots, layout, and the items users asked for ----------

VIEWPORT = {"width": 1280, "height": 800}
SCREENSHOT_ENV = "NAS_SCREENSHOT_DIR"

# Every element box of the main area: none past the window's edges, no two overlapping
# (unless one holds the other), no horizontal scroll; axis titles and legends inside
# their chart.
_LAYOUT_JS = """() => {
  const width = window.innerWidth;
  const main = document.querySelector('[data-testid="stMain"]');
  const boxes = [...main.querySelectorAll('[data-testid="stElementContainer"]')]
    .map(e => [e, e.getBoundingClientRect()])
    .filter(([e, r]) => r.width > 0 && r.height > 0);
  const problems = [];
  const name = e => (e.innerText || e.querySelector('*')?.className?.baseVal || '')
    .trim().slice(0, 50).replace(/\\s+/g, ' ');
  for (const [e, r] of boxes) {
    if (r.left < -0.5 || r.right > width + 0.5) problems.push(`cut off: ${name(e)} (${r.left}–${r.right})`);
  }
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const [a, ra] = boxes[i], [b, rb] = boxes[j];
      if (a.contains(b) || b.contains(a)) continue;
      const w = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left);
      const h = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top);
      if (w > 1 && h > 1) problems.push(`overlap: "${name(a)}" and "${name(b)}" (${w}×${h} px)`);
    }
  }
  for (const scroller of [document.scrollingElement, main]) {
    if (scroller.scrollWidth > scroller.clientWidth + 1) problems.push(`horizontal scroll: ${scroller.scrollWidth} > ${scroller.clientWidth}`);
  }
  for (const plot of document.querySelectorAll('.js-plotly-plot')) {
    const outer = plot.getBoundingClientRect();
    const parts = '.g-xtitle, .g-ytitle, .legend, .axis-title, .colorbar, .tick text, .xtick text, .ytick text';
    for (const part of plot.querySelectorAll(parts)) {
      const r = part.getBoundingClientRect();
      if (r.width === 0) continue;
      if (r.left < outer.left - 1 || r.right > outer.right + 1 || r.top < outer.top - 1 || r.bottom > outer.bottom + 1)
        problems.push(`outside its chart: ${part.className.baseVal || part.tagName} "${part.textContent.slice(0, 40)}"`);
    }
  }
  return problems;
}"""


@pytest.fixture
def page_1280():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `bash .ci/chromium.sh` (make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                             args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.set_default_timeout(TIMEOUT_MS)
            yield page
        finally:
            browser.close()


@pytest.fixture
def screenshot_dir(tmp_path) -> Path:
    """$NAS_SCREENSHOT_DIR, else ``screenshots/`` under the test's tmp folder."""
    folder = Path(os.environ.get(SCREENSHOT_ENV) or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _settled(page) -> None:  # type: ignore[no-untyped-def]
    """Wait until the script run is over and every chart has drawn."""
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden")
    page.wait_for_function("() => [...document.querySelectorAll('.js-plotly-plot')]"
                           ".every(p => p.querySelector('.main-svg'))")
    page.wait_for_timeout(700)  # Plotly's and the data grid's last layout pass


# A table whose columns are wider than its frame scrolls sideways inside it.
_TABLES_SCROLL_JS = """() => [...document.querySelectorAll('[data-testid="stDataFrame"] .dvn-scroller')]
  .filter(s => s.scrollWidth > s.clientWidth + 1).map(s => `table scrolls sideways: ${s.scrollWidth} > ${s.clientWidth}`)"""


def _shoot(page, folder: Path, name: str, tables_fit: bool = False) -> list[str]:  # type: ignore[no-untyped-def]
    """Screenshot at 1280 × 800 (and the whole page, as long as it is), then the layout problems
    (with ``tables_fit``, also every table that does not fit its frame)."""
    _settled(page)
    problems = [f"{name}: {p}" for p in page.evaluate(_LAYOUT_JS)]
    if tables_fit:
        problems += [f"{name}: {p}" for p in page.evaluate(_TABLES_SCROLL_JS)]
    page.screenshot(path=folder / f"{name}.png")
    height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    if height > VIEWPORT["height"]:
        page.set_viewport_size({"width": VIEWPORT["width"], "height": int(height)})
        _settled(page)
        page.screenshot(path=folder / f"{name}-full.png")
        page.set_viewport_size(VIEWPORT)
    return problems


def test_every_page_at_1280x800_fits_without_overlap(
    dashboard_store, gnn_store, serve_dashboard, page_1280, screenshot_dir
):
    page = page_1280
    problems: list[str] = []
    base, _ = serve_dashboard(dashboard_store)

    page.goto(base + "/")
    page.get_by_text("Open nb201-two").wait_for()
    problems += _shoot(page, screenshot_dir, "studies", tables_fit=True)
    # The address a user guesses from the other pages' works too.
    page.goto(base + "/studies")
    page.get_by_text("Open nb201-two").wait_for()
    assert not page.get_by_text("Page not found").count()
    problems += _shoot(page, screenshot_dir, "studies-url")

    page.goto(base + "/study?study=nb201-two")
    page.get_by_text("Pareto-optimal of").wait_for()
    problems += _shoot(page, screenshot_dir, "study-hypervolume")
    for view in ("History", "Choices", "Importance", "Trials"):
        page.locator('[data-testid="stRadio"]').get_by_text(view, exact=True).click()
        {"History": lambda: page.get_by_text("best so far").wait_for(),
         "Choices": lambda: page.locator(".parcoords").first.wait_for(),
         "Importance": lambda: page.get_by_text("fANOVA (Hutter").wait_for(),
         "Trials": lambda: page.get_by_text("Download CSV").wait_for()}[view]()
        problems += _shoot(page, screenshot_dir, f"study-{view.lower()}")
    page.goto(base + "/study?study=nb201-three")
    page.get_by_text("Pareto-optimal of").wait_for()
    problems += _shoot(page, screenshot_dir, "study-three-objectives")

    page.goto(base + "/architecture?study=nb201-two")
    page.get_by_text("searched cell × 15").first.wait_for()
    problems += _shoot(page, screenshot_dir, "architecture")
    page.goto(base + "/fidelity?study=nb201-two")
    page.get_by_text("Rank correlations").wait_for()
    problems += _shoot(page, screenshot_dir, "fidelity")
    page.goto(base + "/compare")
    page.get_by_text("hypervolume · nb201-two").wait_for()
    problems += _shoot(page, screenshot_dir, "compare", tables_fit=True)

    gnn_base, _ = serve_dashboard(gnn_store)
    page.goto(gnn_base + "/architecture?study=gnn-no-message-passing")
    page.get_by_text("not used by this architecture").wait_for()
    problems += _shoot(page, screenshot_dir, "architecture-gnn")
    page.goto(gnn_base + "/study?study=gnn-no-message-passing")
    page.get_by_text("Pareto-optimal of").wait_for()
    page.locator('[data-testid="stRadio"]').get_by_text("Choices", exact=True).click()
    page.locator(".parcoords").first.wait_for()
    problems += _shoot(page, screenshot_dir, "study-gnn-choices")
    # A log-sampled learning rate's ticks stay short (no 16-digit floats).
    ticks = page.locator(".parcoords .tick text").all_text_contents()
    assert ticks and max(len(t) for t in ticks) <= 9, ticks

    assert not problems, "\n".join(problems)
    assert len(list(screenshot_dir.glob("*.png"))) >= 12


def test_study_and_compare_show_the_same_normalised_hypervolume(
    dashboard_store, serve_dashboard, page_1280
):
    page = page_1280
    base, _ = serve_dashboard(dashboard_store)
    shown = {}
    for name in ("nb201-two", "nb201-three"):
        page.goto(base + f"/study?study={name}")
        page.get_by_text("Pareto-optimal of").wait_for()
        metric = page.locator('[data-testid="stMetric"]').filter(has_text="hypervolume")
        shown[name] = metric.locator('[data-testid="stMetricValue"]').inner_text()
        assert 0 < float(shown[name]) <= 1
        page.get_by_text("Hypervolume: the share of the box").first.wait_for()  # explained
        # The reference point reads as the user's units: the accuracy floor in %.
        caption = page.get_by_text("Reference point:").inner_text()
        assert "val_accuracy = 10.00%" in caption and "-0" not in caption
    page.goto(base + "/compare")
    for name, value in shown.items():
        metric = page.locator('[data-testid="stMetric"]').filter(has_text=f"hypervolume · {name}")
        assert metric.locator('[data-testid="stMetricValue"]').inner_text() == value
    study = optuna.load_study(study_name="nb201-two", storage=dashboard_store)
    last = max((t for t in study.trials if t.values), key=lambda t: t.number)
    assert shown["nb201-two"] == f"{last.user_attrs['hypervolume']:.4f}"  # what the search recorded


def test_charts_name_units_and_the_pareto_hover_names_the_objectives(
    dashboard_store, serve_dashboard, page_1280
):
    page = page_1280
    base, _ = serve_dashboard(dashboard_store)
    page.goto(base + "/study?study=nb201-two")
    page.get_by_text("Pareto-optimal of").wait_for()
    _settled(page)
    plot = page.locator(".js-plotly-plot").first
    assert plot.locator(".g-xtitle").text_content() == "M params · lower is better"
    assert plot.locator(".g-ytitle").text_content() == "val_accuracy (%) · higher is better"
    red = plot.locator("path.point[style*='rgb(214, 39, 40)']").first
    x, y = _centre(red)
    page.mouse.move(x, y)
    hover = page.locator(".hoverlayer .hovertext").first
    hover.wait_for()
    text = hover.text_content()
    assert re.search(r"val_accuracy = \d+\.\d\d%", text), text
    assert re.search(r"params = [0-9.]+ M params", text), text
    # The fANOVA caution on a study with few trials.
    page.goto(base + "/study?study=nb201-three")
    page.get_by_text("Pareto-optimal of").wait_for()
    page.locator('[data-testid="stRadio"]').get_by_text("Importance", exact=True).click()
    page.get_by_text("Only 20 complete trials").wait_for()
