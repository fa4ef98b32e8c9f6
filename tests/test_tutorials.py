"""Every notebook in tutorials/ runs top to bottom in a fresh kernel."""

import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

TUTORIALS = sorted((Path(__file__).parent.parent / "tutorials").glob("*.ipynb"))


def test_there_are_tutorials():
    assert TUTORIALS


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.name)
def test_tutorial_executes(path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # Tutorials that read it run a smaller but still discriminating size under test (their
    # assertions hold at either size; figures quoted in the docs come from the full size
    # only where a test asserts them at that size).
    monkeypatch.setenv("GENERIC_MM_TUTORIAL_SMALL", "1")
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    limit = sys.getrecursionlimit()
    try:
        client.execute()
    finally:
        # Running a kernel imports jedi into this process, and jedi raises the recursion
        # limit for good (to 3000). Under pytest-xdist other tests run after this one in the
        # same process, and the expression parser's refusal of deep nesting depends on it.
        sys.setrecursionlimit(limit)
    errors = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.output_type == "error"
    ]
    assert not errors
