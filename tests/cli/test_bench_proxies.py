"""``nas bench proxies`` from an installed package: the packages alone, no checkout around them."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys

from tests.conftest import DATA_DIR, REPO

#: what ``pip install`` puts on the path (pyproject's packages.find): no benchmarks/, no tests/
PACKAGES = ("nas", "search_spaces", "proxies", "supernets")


def test_bench_proxies_writes_its_files_from_an_installed_package(tmp_path):
    site = tmp_path / "site"
    for package in PACKAGES:
        shutil.copytree(REPO / package, site / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "NAS_DATA_DIR": str(DATA_DIR),
           "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "nas", "bench", "proxies", "--space", "nb201", "--n-archs", "10",
         "--seed", "2", "--out", "out", "--proxies", "params,synflow", "--format", "json"],
        cwd=work, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "scoring" in done.stderr  # the progress bar, on stderr
    records = json.loads(done.stdout)
    assert {r["proxy"] for r in records} >= {"params", "synflow"}
    assert all(-1 <= r["spearman"] <= 1 and r["n"] == 10 for r in records)
    out = work / "out"
    for name in ("correlations.csv", "correlations.md", "scatter_params.png",
                 "scatter_synflow.png"):
        assert (out / name).stat().st_size > 0, name
    with open(out / "scores.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 10
    assert {"nb201_index", "arch", "test_accuracy", "params", "synflow"} <= set(rows[0])
    assert all(r["arch"].startswith("|") and 0 < float(r["test_accuracy"]) < 1 for r in rows)
    assert "| synflow |" in (out / "correlations.md").read_text()


def test_bench_proxies_reports_a_named_ensemble_when_its_proxies_are_scored(nas_cli, tmp_path):
    # vkdnw_meco_jacob_flops (proxies.ensembles.NAMED_ENSEMBLES) is the label-free ensemble a
    # study selects by name: the benchmark reports it beside the single proxies.
    done = nas_cli("bench", "proxies", "--space", "nb201", "--n-archs", "10", "--seed", "2",
                   "--out", str(tmp_path / "out"), "--proxies", "jacob_cov,meco,flops,vkdnw",
                   "--data-dir", str(DATA_DIR), "--format", "json", timeout=600)
    assert done.returncode == 0, done.stderr
    records = {r["proxy"]: r for r in json.loads(done.stdout)}
    named = records["vkdnw_meco_jacob_flops = log_rank_sum(jacob_cov+meco+flops+vkdnw)"]
    assert named["n"] == 10 and -1 <= named["spearman"] <= 1
    assert "| named ensembles" in (tmp_path / "out" / "correlations.md").read_text()


def test_bench_proxies_refuses_a_space_without_a_table(nas_cli, tmp_path):
    done = nas_cli("bench", "proxies", "--space", "gnn", "--out", str(tmp_path / "o"))
    assert done.returncode == 2
    assert "--space: 'gnn' has no tabular benchmark; allowed: nb201" in done.stderr
    assert not (tmp_path / "o").exists()
