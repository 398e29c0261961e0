"""The CLI as users meet it: fast help without torch, one-line errors, non-zero exits."""

import subprocess
import sys

from tests.conftest import REPO


def test_help_does_not_import_torch():
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from nas.cli import app\n"
        "result = CliRunner().invoke(app, ['--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        "assert 'search' in result.output and 'export' in result.output\n"
        "heavy = [m for m in ('torch', 'torch_geometric') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_list_on_missing_storage_is_one_line_error(nas_cli, tmp_path):
    done = nas_cli("list", "--storage", f"sqlite:///{tmp_path / 'none.db'}")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert done.stderr.startswith("error: no study database")
    assert not (tmp_path / "none.db").exists()


def test_unsupported_storage_scheme(nas_cli):
    done = nas_cli("list", "--storage", "mongodb://localhost/x")
    assert done.returncode == 2 and "scheme 'mongodb' is not supported" in done.stderr


def test_export_needs_exactly_one_selector(nas_cli):
    done = nas_cli("export", "somestudy")
    assert done.returncode == 2 and "exactly one of --trial N, --pareto or --best OBJECTIVE" in done.stderr


def test_validate_creates_nothing_not_even_a_latency_table(nas_cli, tmp_path):
    """A study with a predicted_latency objective is checked, and told its table is missing;
    nothing is measured or written (no study database, no latency table)."""
    cache = tmp_path / "cache"
    done = nas_cli("validate", str(REPO / "studies" / "vit_cifar10.toml"), cwd=tmp_path,
                   env={"NAS_CACHE_DIR": str(cache)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok: study 'vit-cifar10'")
    assert "latency table: none yet" in done.stdout
    assert not cache.exists() and list(tmp_path.iterdir()) == []
