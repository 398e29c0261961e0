"""Architecture: one trial's choices, metrics, fidelity, a drawing of its layers, and export."""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

from dashboard._data import StudyData, storage_url
from dashboard._export import run_export, zip_folder
from dashboard._panels import architecture_panel, pick_study, pick_trial


def render() -> None:
    data = pick_study()
    if data is None:
        return
    number = pick_trial(data)
    if number is None:
        st.info(f"Study **{data.name}** has no complete trials yet.")
        return
    architecture_panel(data, number)
    _export_section(data, number)


def _export_section(data: StudyData, number: int) -> None:
    st.subheader("Export")
    st.caption("Runs `nas export` in a separate process, as you would from a shell (it builds "
               "the model and records the export; the dashboard's own connection stays "
               "read-only), then offers the files here.")
    key = f"export-{data.name}-{number}"
    untrained = st.checkbox(
        "Export the untrained initialisation if the trial has no trained weights",
        key=f"untrained-{key}",
        help="A trial scored by a table lookup or a zero-cost proxy was never trained: "
             "`nas export` refuses it unless asked for its seeded random initialisation "
             "(or for `--finetune-epochs E` from a shell).")
    if st.button(f"Export trial {number}", key=f"button-{key}"):
        out_dir = Path(tempfile.mkdtemp(prefix="nas-dashboard-export-"))
        with st.spinner("Exporting…"):
            st.session_state[key] = (
                run_export(data.name, number, storage_url(), out_dir, untrained=untrained),
                out_dir)
    if key not in st.session_state:
        return
    result, out_dir = st.session_state[key]
    if not result.ok:
        st.error(f"Export failed: {result.message.splitlines()[-1] if result.message else 'no output'}")
        return
    st.success(f"Exported {len(result.files)} files to `{out_dir}`")
    for path in result.files:
        st.download_button(f"Download {path.relative_to(out_dir)}", path.read_bytes(),
                           file_name=path.name, key=f"download-{key}-{path}")
    if len(result.files) > 1:
        st.download_button("Download all (zip)", zip_folder(result.files, out_dir),
                           file_name=f"{data.name}-trial-{number}.zip", mime="application/zip",
                           key=f"zip-{key}")


st.title("Architecture")
render()
