"""`python -m generic_mm.cli`: the `generic-mm` command."""

from . import entry

entry()
