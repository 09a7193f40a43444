"""Kept for one release: an installed `git-datax` wrapper from before the layout move imports
`gitdatax.main:main`, and a stale one with filter.datax.required=true would block every checkout."""
from gitdatax.cli.main import main  # noqa: F401
