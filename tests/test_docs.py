"""The documentation builds, renders its maths offline, and its code runs.

- The site builds in strict mode (broken links and API references fail it), serves MathJax
  itself, and no page shows raw TeX: a display equation inside a paragraph, or a line of one
  read as a list item, leaves `$` or `\\frac` in the text (API docstrings included).
- Every ```python block of every page (docs/**/*.md and README.md) runs: the blocks of one
  page in order, in one namespace, in a scratch folder. A fragment that cannot run is marked
  `text`, never `python`.
- `examples/quickstart.py` does what the README says: what `generic-mm run damped_oscillator`
  does, from Python.
"""

import html
import os
import re
import runpy
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).parent.parent
PAGES = sorted(p.relative_to(ROOT).as_posix() for p in ROOT.glob("docs/**/*.md")) + ["README.md"]

# A fence: its indentation (inside a list item), its info string, its body.
FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=indent)```", re.M | re.S
)


def _language(info: str) -> str:
    """A fence's language: "python" for ```python, ```python title="x" and ```{.python}."""
    return (info.split(maxsplit=1) or [""])[0].strip("{.}")


def _blocks(page: str) -> list[tuple[int, str]]:
    """The page's ```python blocks as (line of the first code line, dedented code)."""
    text = (ROOT / page).read_text()
    return [
        (text.count("\n", 0, m.start("body")) + 1, textwrap.dedent(m.group("body")))
        for m in FENCE.finditer(text)
        if _language(m.group("info")) == "python"
    ]


PAGES_WITH_CODE = [page for page in PAGES if _blocks(page)]


def test_pages_are_found():
    assert {"README.md", "docs/getting-started.md", "docs/structured.md"} <= set(PAGES_WITH_CODE)


@pytest.mark.parametrize("page", PAGES_WITH_CODE)
def test_code_blocks_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # blocks that write files write them here
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace: dict = {"__name__": "__main__"}
    try:
        for line, code in _blocks(page):
            # Padded so that a traceback names the page's own line numbers.
            exec(compile("\n" * (line - 1) + code, str(ROOT / page), "exec"), namespace)
    finally:
        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close("all")


@pytest.mark.parametrize("page", PAGES)
def test_python_is_marked_python(page):
    """Code marked with another name for Python would silently escape the run above."""
    text = (ROOT / page).read_text()
    for m in FENCE.finditer(text):
        lang = _language(m.group("info"))
        line = text.count("\n", 0, m.start()) + 1
        assert lang not in {"py", "python3", "py3", "pycon", "ipython"}, (
            f"{page}:{line}: a ```{lang} block is not run by the tests; mark it ```python "
            "(and make it run) or ```text"
        )


def _display_maths(text: str):
    """Yield (line number, lines of the block, line before, line after) of each $$ block."""
    lines = text.split("\n") + [""]
    fenced, i = False, 0
    while i < len(lines):
        if lines[i].lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and "$$" in lines[i]:
            j = i
            if lines[i].count("$$") % 2:  # opened here, closed on a later line
                j = next((k for k in range(i + 1, len(lines)) if "$$" in lines[k]), i)
            yield i + 1, lines[i : j + 1], lines[i - 1] if i else "", lines[j + 1]
            i = j
        i += 1


@pytest.mark.parametrize("page", PAGES)
def test_display_maths_is_its_own_paragraph(page):
    """`$$...$$` renders as display maths only as a paragraph of its own (blank lines around,
    indented like the list item it belongs to), and a line of it that starts with `+`, `-` or
    `*` and a space is read as a list item."""
    for line, block, before, after in _display_maths((ROOT / page).read_text()):
        where = f"{page}:{line}"
        assert block[0].strip().startswith("$$") and block[-1].rstrip().endswith("$$"), (
            f"{where}: display maths shares a line with text: {block[0].strip()!r}"
        )
        assert not before.strip() and not after.strip(), (
            f"{where}: display maths inside a paragraph; put a blank line before and after"
        )
        for k, text in enumerate(block[1:], start=1):
            assert not re.match(r"\s*[-+*]\s", text), (
                f"{page}:{line + k}: a line of display maths starting with "
                f"{text.strip()[0]!r} is a list item; end the previous line with it instead"
            )


# ---------------------------------------------------------------------------- the built site


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    run = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return out


def test_docs_build_strict(site):
    assert (site / "api" / "index.html").exists()
    assert not (site / "hooks").exists()  # the build hook is not published


def test_maths_is_served_with_the_site(site):
    mathjax = site / "javascripts" / "mathjax"
    assert (mathjax / "tex-mml-chtml.js").stat().st_size > 500_000
    assert list((mathjax / "output" / "chtml" / "fonts" / "woff-v2").glob("MathJax_Main-*.woff"))
    for page in site.rglob("*.html"):
        scripts = re.findall(r'<script[^>]*\bsrc="([^"]+)"', page.read_text())
        assert scripts and not [s for s in scripts if "//" in s], f"{page}: {scripts}"
        if 'class="arithmatex"' in page.read_text():
            assert any(s.endswith("javascripts/mathjax/tex-mml-chtml.js") for s in scripts)


def _raw_tex(page_html: str) -> list[str]:
    """Text of the page outside code and rendered maths that still looks like TeX."""
    body = page_html.split("<article", 1)[-1].split("</article>", 1)[0]
    body = re.sub(r"<(script|pre|code|style)\b[^>]*>.*?</\1>", " ", body, flags=re.S)
    body = re.sub(r'<(span|div) class="arithmatex">.*?</\1>', " MATH ", body, flags=re.S)
    text = html.unescape(re.sub(r"<[^>]+>", " ", body))
    return [
        " ".join(text[max(0, m.start() - 60) : m.end() + 60].split())
        for m in re.finditer(r"\$|\\[A-Za-z]{2,}|\\[\[\]()]", text)
    ]


def test_no_page_shows_raw_tex(site):
    leaks = {
        str(page.relative_to(site)): found
        for page in sorted(site.rglob("*.html"))
        if page.name != "404.html" and (found := _raw_tex(page.read_text()))
    }
    assert not leaks, "\n".join(f"{page}: ...{s}..." for page, f in leaks.items() for s in f)


# ------------------------------------------------------------------------------ the example


def test_quickstart_does_what_the_cli_run_does(tmp_path, monkeypatch):
    """README: `python examples/quickstart.py` does what `generic-mm run damped_oscillator`
    does: the same model, checked, integrated to the same t1 at the same points, with the
    trajectory written to `damped_oscillator.npz`."""
    from generic_mm.cli import main

    (tmp_path / "py").mkdir()
    (tmp_path / "cli").mkdir()
    monkeypatch.chdir(tmp_path / "py")
    runpy.run_path(str(ROOT / "examples" / "quickstart.py"), run_name="__main__")
    monkeypatch.chdir(tmp_path / "cli")
    assert main(["run", "damped_oscillator", "--no-progress"]) == 0
    with (
        np.load(tmp_path / "py" / "damped_oscillator.npz") as ours,
        np.load(tmp_path / "cli" / "damped_oscillator.npz") as cli,
    ):
        assert sorted(ours.files) == sorted(cli.files)
        for key in ("ts", "ys", "energy", "entropy", "entropy_production"):
            np.testing.assert_allclose(ours[key], cli[key], rtol=1e-9, atol=1e-12, err_msg=key)
