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


def _write_scores(path, rows, scores_of):
    import json

    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps({"row": row, "scores": {p: [v, 0.1] for p, v in scores_of(row).items()}}) + "\n")


def test_a_named_ensemble_is_one_more_proxy_feature_ranked_over_the_file(nas_cli, tmp_path, data_dir):
    import numpy as np

    from nas.bench.predictor import load_proxy_scores
    from nas.tasks.nb201 import load_table
    from proxies.ensembles import log_rank_sum

    accuracy = load_table(data_dir).columns["cifar10_test"]
    rng = np.random.default_rng(0)
    rows = [int(r) for r in rng.permutation(len(accuracy))[:120]]
    noise = {r: rng.normal(size=5) for r in rows}
    # jacob_cov follows accuracy, the other three of the ensemble and synflow are noise
    def scores_of(r):
        return {"synflow": noise[r][0], "jacob_cov": accuracy[r] + noise[r][1],
                "meco": noise[r][2], "flops": noise[r][3], "vkdnw": noise[r][4]}

    path = tmp_path / "scores.jsonl"
    _write_scores(path, rows, scores_of)

    kept, matrix = load_proxy_scores(path, ["synflow"], ["vkdnw_meco_jacob_flops"])
    assert sorted(rows) == kept.tolist() and matrix.shape == (120, 2)
    expected = log_rank_sum({p: [scores_of(int(r))[p] for r in kept]
                             for p in ("jacob_cov", "meco", "flops", "vkdnw")})
    assert np.allclose(matrix[:, 1], expected)

    out = tmp_path / "bench"
    done = nas_cli("bench", "predictor", "--labels", "20", "--seeds", "2", "--model", "gp",
                   "--proxy-scores", str(path), "--proxies", "synflow",
                   "--ensembles", "vkdnw_meco_jacob_flops", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "proxy features: synflow, vkdnw_meco_jacob_flops" in done.stdout
    with open(out / "results.csv", newline="", encoding="utf-8") as handle:
        results = list(csv.DictReader(handle))
    assert {r["features"] for r in results} == {"graph", "proxies", "graph+proxies"}
    assert all(int(r["n_test"]) == 100 for r in results)


def test_ensemble_errors_name_the_flag_and_the_allowed_values(nas_cli, tmp_path):
    path = tmp_path / "scores.jsonl"
    _write_scores(path, range(20), lambda r: {"synflow": float(r), "meco": float(r)})
    done = nas_cli("bench", "predictor", "--proxy-scores", str(path), "--proxies", "synflow",
                   "--ensembles", "best")
    assert done.returncode == 2
    assert done.stderr.strip() == ("error: --ensembles: unknown 'best'; allowed: "
                                   "vkdnw_meco_jacob_flops, az_nas")
    done = nas_cli("bench", "predictor", "--proxy-scores", str(path), "--proxies", "synflow",
                   "--ensembles", "vkdnw_meco_jacob_flops")
    assert done.returncode == 2
    assert "scored by all of synflow, jacob_cov, meco, flops, vkdnw" in done.stderr
    done = nas_cli("bench", "predictor", "--ensembles", "vkdnw_meco_jacob_flops")
    assert done.returncode == 2 and "--ensembles: needs --proxy-scores" in done.stderr
