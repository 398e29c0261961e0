"""docs/your-own-data.md runs as written: every block, in order, in an empty folder.

Blocks tagged ``file=NAME`` are written to that file, ``python run`` blocks run in a fresh
Python, and ``bash`` lines run the real CLI; ``text`` blocks are only shown.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys

from tests.conftest import REPO

DOC = REPO / "docs" / "your-own-data.md"
BLOCK = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```", re.S | re.M)


def test_the_tutorial_runs_as_written(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    env.pop("NAS_STORAGE", None)
    ran = []
    for language, info, body in BLOCK.findall(DOC.read_text(encoding="utf-8")):
        info = info.strip()
        if info.startswith("file="):
            (tmp_path / info.removeprefix("file=")).write_text(body)
            continue
        if language == "python" and info == "run":
            commands = [[sys.executable, "-c", body]]
        elif language == "bash":
            commands = [[sys.executable, "-m", "nas", *shlex.split(line)[1:]]
                        for line in body.splitlines() if line.startswith("nas ")]
        else:
            continue
        for command in commands:
            done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                                  timeout=600)
            assert done.returncode == 0, f"{command[-1][:200]}\n{done.stdout[-2000:]}{done.stderr[-3000:]}"
            ran.append(done.stdout)
    assert len(ran) == 8, "the page lost a block"
    assert ran[1].strip().endswith("5 passed, 0 failed")  # nas check-plugin: every check passed
    assert " predicts " in ran[-2]
    assert ran[-1].startswith("5 trials; 5 complete stored")
