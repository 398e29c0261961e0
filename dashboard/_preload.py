"""Start the browser on Plotly's JavaScript before the first chart arrives.

Streamlit's front end loads its Plotly chunk (``PlotlyChart.*.js``, 4.7 MB)
only when the first ``st.plotly_chart`` element reaches the page, and then
spends about a second of CPU compiling and running it before it can draw:
all of that used to sit after the server had built the figure. Importing
the chunk from a tiny script sent first (in the sidebar, before the page
runs) overlaps it with the server running the page. The browser's module
map holds one instance per URL, so Streamlit's own import later finds it
done. Nothing is drawn and nothing is fetched that the page would not fetch
anyway.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import streamlit as st

__all__ = ["plotly_chunk", "preload_plotly"]

# Streamlit serves its front end from here (static/js/…, beside index.html).
_STATIC_JS = Path(st.__file__).parent / "static" / "static" / "js"

_SCRIPT = """<script>
(() => {{
  if (window.__nasPlotlyPreload) return;
  // Streamlit's entry module sits in the same folder as the chunk: resolving against
  // it keeps any server base path (server.baseUrlPath) and proxy prefix.
  const entry = document.querySelector('script[type="module"][src*="/static/js/"]');
  if (!entry) return;
  window.__nasPlotlyPreload = performance.now();  // when it started (read by the tests)
  const load = () => import(new URL({chunk!r}, entry.src).href).catch(() => {{
    window.__nasPlotlyPreload = false;
  }});
  if ({when_idle} && window.requestIdleCallback) requestIdleCallback(load, {{timeout: 3000}});
  else load();
}})();
</script>"""


@cache
def plotly_chunk() -> str | None:
    """File name of the Plotly chunk in this Streamlit's build, or None if it has none."""
    found = sorted(_STATIC_JS.glob("PlotlyChart.*.js"))
    return found[0].name if len(found) == 1 else None


def preload_plotly(*, when_idle: bool = False) -> None:
    """Have the browser import Plotly's chunk now (or once idle); a no-op without one."""
    chunk = plotly_chunk()
    if chunk is None:
        return
    st.html(_SCRIPT.format(chunk=chunk, when_idle="true" if when_idle else "false"),
            unsafe_allow_javascript=True)
