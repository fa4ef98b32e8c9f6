"""MkDocs hook: serve MathJax with the site, so the maths renders offline.

MathJax 3 comes from the `django-static-mathjax` wheel on PyPI (a plain copy of the MathJax
distribution as package data, no Django needed; a docs dependency in `pyproject.toml`). After
every build the CommonHTML bundle (`tex-mml-chtml.js`) and what it loads lazily (fonts, TeX
extensions, menu, assistive MathML) are copied to `javascripts/mathjax/` in the site, about
3 MB; `mkdocs.yml` loads it from there. Nothing is fetched from a CDN and nothing is committed.
"""

import importlib.util
import shutil
from pathlib import Path

from mkdocs.exceptions import PluginError

TARGET = "javascripts/mathjax"
# The bundle and what it loads from its own folder. Left out: the other bundles, the SVG
# output and the speech-rule engine (`sre`, only for the opt-in explorer of the menu).
PARTS = ("tex-mml-chtml.js", "output/chtml", "input/tex/extensions", "ui", "a11y", "adaptors")


def mathjax_dir() -> Path:
    """The installed MathJax `es5` folder, or a `PluginError` saying what to install."""
    spec = importlib.util.find_spec("mathjax")
    for root in (spec.submodule_search_locations or []) if spec else []:
        es5 = Path(root) / "static" / "mathjax" / "es5"
        if (es5 / PARTS[0]).is_file():
            return es5
    raise PluginError(
        "MathJax is served with the site, from the `django-static-mathjax` package, which is "
        "not installed: run `python -m pip install -e '.[docs]'`"
    )


def on_config(config):
    mathjax_dir()  # fail before building, not after
    return config


def on_post_build(config):
    source, site = mathjax_dir(), Path(config["site_dir"]) / TARGET
    for part in PARTS:
        src, dst = source / part, site / part
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            shutil.copy2(src, dst)
