"""The documentation builds in strict mode (broken links and API references fail it)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


def test_docs_build_strict(tmp_path):
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    out = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert (tmp_path / "site" / "api" / "index.html").exists()


# Pages whose ```python blocks are complete programs: run each page's blocks in order, in
# one namespace, so the code the docs show is code that works.
EXECUTED_PAGES = ["concepts/checks.md", "integrators.md", "structured.md"]


def _blocks(page: str) -> list[str]:
    text = (ROOT / "docs" / page).read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


@pytest.mark.parametrize("page", EXECUTED_PAGES)
def test_code_blocks_run(page):
    blocks = _blocks(page)
    assert blocks, f"{page} has no python blocks"
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, f"docs/{page}", "exec"), namespace)
