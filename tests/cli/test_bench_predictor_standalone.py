"""``nas bench predictor --space gnn --task cora``: labels from standalone training on real Cora,
the free rankers scored on the same held-out architectures, and an earlier run reused."""

import csv


def _rows(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_trains_once_then_reuses_the_run(nas_cli, tmp_path, data_dir):
    out = tmp_path / "first"
    tiny = ("--n-archs", "10", "--labels", "5", "--seeds", "2", "--proxies", "synflow,nwot")
    done = nas_cli("bench", "predictor", "--space", "gnn", "--task", "cora", *tiny,
                   "--standalone-epochs", "2", "--standalone-seeds", "1", "--supernet-epochs", "1",
                   "--out", str(out), "--data-dir", str(data_dir))
    assert done.returncode == 0, done.stderr
    rows = _rows(out / "results.csv")
    rankers = ["predictor", "predictor+proxies", "supernet", "params", "synflow", "nwot"]
    assert [(r["ranker"], r["seed"]) for r in rows] == [(n, s) for s in "01" for n in rankers]
    assert all(r["n_test"] == "5" and -1 <= float(r["spearman"]) <= 1 for r in rows
               if r["spearman"] != "nan")
    assert "| supernet | 5 |" in done.stdout and "mean of 1 seed(s)" in done.stdout
    # The held-out rankers are judged on the run's own scores: the supernet's row of seed 0
    # is the Spearman of ranking.csv's two columns on the architectures seed 0 held out.
    import numpy as np
    from scipy.stats import spearmanr

    ranking = _rows(out / "supernet-run" / "ranking.csv")
    test = np.random.default_rng(0).permutation(10)[5:]
    expected = spearmanr([float(ranking[i]["supernet_score"]) for i in test],
                         [float(ranking[i]["standalone_score"]) for i in test])[0]
    got = next(r for r in rows if r["ranker"] == "supernet" and r["seed"] == "0")["spearman"]
    assert got == "nan" if np.isnan(expected) else abs(float(got) - expected) < 1e-5
    assert len(_rows(out / "scores.csv")) == 10

    # Reusing the run trains nothing and gives the same figures.
    again = tmp_path / "again"
    done = nas_cli("bench", "predictor", "--space", "gnn", "--task", "cora", *tiny,
                   "--supernet-run", str(out / "supernet-run"), "--out", str(again),
                   "--data-dir", str(data_dir))
    assert done.returncode == 0, done.stderr
    assert _rows(again / "results.csv") == rows
    assert not (again / "supernet-run").exists()

    # Another draw of architectures is refused, naming the flag.
    done = nas_cli("bench", "predictor", "--space", "gnn", "--task", "cora", *tiny,
                   "--arch-seed", "1", "--supernet-run", str(out / "supernet-run"),
                   "--out", str(tmp_path / "other"), "--data-dir", str(data_dir))
    assert done.returncode == 2 and done.stderr.startswith("error: --supernet-run:")


def test_bad_pairs_are_one_line_errors(nas_cli, tmp_path):
    done = nas_cli("bench", "predictor", "--space", "gnn", "--task", "citeseer",
                   "--out", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.startswith("error: --space/--task: no preset for gnn/citeseer; allowed: ")
    assert "gnn/cora" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    done = nas_cli("bench", "predictor", "--space", "gnn")
    assert done.returncode == 2 and done.stderr.startswith("error: --task: --space gnn has no table")
