"""``nas bench predictor``: Spearman and Kendall per number of labels, written and printed."""

import csv


def test_prints_and_writes_one_row_per_labels_and_seed(nas_cli, tmp_path):
    out = tmp_path / "bench"
    done = nas_cli("bench", "predictor", "--space", "nb201", "--labels", "10,20", "--seeds", "2",
                   "--model", "gp", "--out", str(out))
    assert done.returncode == 0, done.stderr
    with open(out / "results.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert {(r["features"], r["labels"], r["seed"]) for r in rows} == {
        ("graph", str(n), str(s)) for n in (10, 20) for s in (0, 1)}
    assert all(int(r["n_test"]) == 15625 - int(r["labels"]) for r in rows)
    assert all(0.3 < float(r["spearman"]) <= 1 and float(r["kendall"]) <= float(r["spearman"])
               for r in rows)
    assert "| graph | 20 |" in done.stdout


def test_bad_options_are_one_line_errors(nas_cli, tmp_path):
    done = nas_cli("bench", "predictor", "--dataset", "mnist")
    assert done.returncode == 2
    assert done.stderr.strip() == "error: --dataset: unknown 'mnist'; allowed: cifar10, cifar100, imagenet16"
    done = nas_cli("bench", "predictor", "--proxy-scores", str(tmp_path / "none.jsonl"))
    assert done.returncode == 2 and "--proxy-scores: no such file" in done.stderr
