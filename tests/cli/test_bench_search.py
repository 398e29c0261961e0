"""``nas bench search``: seeded searches on the NAS-Bench-201 table write the results, table and plot."""

import csv


def test_writes_one_row_per_sampler_seed_and_query_count(nas_cli, tmp_path):
    out = tmp_path / "bench"
    done = nas_cli("bench", "search", "--space", "nb201", "--dataset", "cifar10",
                   "--sampler", "random,evolution", "--queries", "5,12", "--seeds", "2",
                   "--out", str(out))
    assert done.returncode == 0, done.stderr
    with open(out / "results.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert {(r["sampler"], r["seed"], r["queries"]) for r in rows} == {
        (s, str(seed), str(q)) for s in ("random", "evolution") for seed in (0, 1) for q in (5, 12)
    }
    # Test accuracies of real table rows (CIFAR-10 tops out at 94.37%).
    assert all(10.0 <= float(r["best_test_acc"]) <= 94.37 for r in rows)
    table = (out / "table.md").read_text(encoding="utf-8")
    assert "| random |" in table and "| evolution |" in table and "12 queries" in table
    assert (out / "regret.png").stat().st_size > 0
    assert "| random |" in done.stdout


def test_a_space_without_a_table_is_a_one_line_error(nas_cli, tmp_path):
    done = nas_cli("bench", "search", "--space", "gnn", "--out", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.strip() == "error: --space: 'gnn' has no tabular benchmark; allowed: nb201"


def test_latency_on_a_dataset_without_latencies_is_a_one_line_error(nas_cli, tmp_path):
    done = nas_cli("bench", "search", "--dataset", "cifar100", "--objectives", "latency",
                   "--out", str(tmp_path / "bench"))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: --objectives: latency needs --dataset cifar10 (HW-NAS-Bench latencies exist "
        "for cifar10 only), got 'cifar100'"
    )
    assert not (tmp_path / "bench").exists()


def test_warm_start_adds_warm_rows_that_open_with_the_source_search_best(nas_cli, tmp_path):
    out = tmp_path / "bench"
    done = nas_cli("bench", "search", "--dataset", "cifar100", "--sampler", "random",
                   "--queries", "3,6", "--seeds", "2", "--warm-start", "cifar10:30",
                   "--out", str(out))
    assert done.returncode == 0, done.stderr
    with open(out / "results.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert {(r["warm_start"], r["seed"], r["queries"]) for r in rows} == {
        (w, str(seed), str(q)) for w in ("", "cifar10:30") for seed in (0, 1) for q in (3, 6)
    }
    # Warm rows open with the best three of 30 CIFAR-10 queries: better than 3 random ones.
    warm = [float(r["best_test_acc"]) for r in rows if r["warm_start"] and r["queries"] == "3"]
    cold = [float(r["best_test_acc"]) for r in rows if not r["warm_start"] and r["queries"] == "3"]
    assert min(warm) > max(cold)
    assert "| random ← cifar10:30 |" in done.stdout


def test_a_bad_warm_start_is_a_one_line_error(nas_cli, tmp_path):
    done = nas_cli("bench", "search", "--warm-start", "mnist", "--out", str(tmp_path / "b"))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: --warm-start: unknown dataset 'mnist'; allowed: cifar10, cifar100, imagenet16")
