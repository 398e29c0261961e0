"""The nas dashboard: ``nas dashboard [--storage URL]`` runs ``streamlit run`` on this file.

Read-only and torch-free: every page reads the store through
:mod:`dashboard._data` (which uses :mod:`nas.store`), so it can watch a
running search without slowing or locking it.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard._data import storage_url
from dashboard._preload import preload_plotly
from nas.errors import NasError
from nas.store import redact

# Not "pages/": Streamlit would also list that folder as pages of its own (its older
# multipage mode), beside the ones st.navigation declares.
_PAGES = Path(__file__).parent / "views"

st.set_page_config(page_title="nas dashboard", layout="wide")

PAGES = [
    # url_path: ignored for the default page ("/"), but names it apart from the alias.
    st.Page(_PAGES / "studies.py", title="Studies", url_path="home", default=True),
    st.Page(_PAGES / "study.py", title="Study", url_path="study"),
    st.Page(_PAGES / "architecture.py", title="Architecture", url_path="architecture"),
    st.Page(_PAGES / "fidelity.py", title="Fidelity", url_path="fidelity"),
    st.Page(_PAGES / "compare.py", title="Compare", url_path="compare"),
]
# The default page lives at "/" (Streamlit ignores its url_path), so "/studies", the
# address a user guesses from the other pages', needs a page of its own: the same file,
# left out of the links below.
_STUDIES_ALIAS = st.Page(_PAGES / "studies.py", title="Studies", url_path="studies")

navigation = st.navigation([*PAGES, _STUDIES_ALIAS], position="hidden")

with st.sidebar:
    for page in PAGES:
        st.page_link(page)
    try:
        st.caption(f"Storage (read-only): `{redact(storage_url())}`")
    except NasError as exc:
        st.error(str(exc))
    st.toggle("Live refresh", value=True, key="live_refresh",
              help="Re-read the store every few seconds while a search runs.")
    st.select_slider("Refresh every (s)", options=[2, 5, 10, 30, 60], value=5, key="refresh_s")
    # Sent before the page runs, so the browser starts on Plotly's JS meanwhile; last in
    # the sidebar, where its empty block shows no gap. The Studies page has no chart:
    # there the browser takes it up once idle, ready for the click into a study.
    preload_plotly(when_idle=navigation.url_path in ("", "studies"))

navigation.run()
