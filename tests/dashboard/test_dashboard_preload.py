"""Plotly's JavaScript is requested by the page itself, ahead of the first chart.

The preload only saves time if it imports the very chunk Streamlit's front
end imports (one module per URL: evaluated once, fetched once). A Streamlit
upgrade that renames or splits the chunk must fail here, not silently make
the browser load Plotly twice.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard._preload import plotly_chunk

STATIC_JS = Path(st.__file__).parent / "static" / "static" / "js"


def test_the_preloaded_chunk_is_the_one_streamlit_imports():
    chunk = plotly_chunk()
    assert chunk is not None and (STATIC_JS / chunk).is_file()
    entries = list(STATIC_JS.glob("index.*.js"))
    assert entries, f"no Streamlit entry bundle in {STATIC_JS}"
    # Streamlit's lazy import of its Plotly element, relative to the entry module.
    assert any(f"import(`./{chunk}`)" in entry.read_text(encoding="utf-8") for entry in entries)


def test_every_page_sends_the_preload_before_the_page_runs(dashboard_store, open_page):
    chunk = plotly_chunk()
    for page, idle in (("study", False), ("studies", True), ("compare", False)):
        app = open_page(dashboard_store, page, study="nb201-two")
        assert not app.exception, (page, app.exception)
        scripts = [h for h in app.sidebar.get("html") if chunk in h.proto.body]
        assert len(scripts) == 1, page
        html = scripts[0].proto
        assert html.unsafe_allow_javascript
        assert f"if ({'true' if idle else 'false'} && window.requestIdleCallback)" in html.body
        # In the sidebar, which the app fills before it runs the page.
        assert list(app.sidebar.children.values())[-1].type == "html"
