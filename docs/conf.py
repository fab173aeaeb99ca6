"""Sphinx configuration for dengage-django's documentation.

Built with warnings as errors (``make docs``; ``tests/test_docs.py``)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Nothing here reaches the network (no intersphinx) and nothing beyond
Sphinx is needed: the theme is Sphinx's own ``alabaster``. The settings
tables are generated from ``dengage_django.conf.SETTINGS`` at each build
(:mod:`settings_table`), which needs no configured Django settings.
"""

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
for path in (str(DOCS), str(ROOT)):
    if path not in sys.path:
        sys.path.insert(0, path)

import settings_table  # noqa: E402

import dengage_django  # noqa: E402

project = "dengage-django"
author = "the dengage-django authors"
copyright = "the dengage-django authors"
release = dengage_django.__version__
version = release

root_doc = "index"
extensions = []
templates_path = []
# _generated/ holds files included by other pages, not pages of their own.
exclude_patterns = ["_build", "_generated"]
# ``code`` in single backquotes is a mistake for ``code``: make it one.
default_role = None
nitpicky = True

html_theme = "alabaster"
html_static_path = []
html_title = f"dengage-django {release}"
html_theme_options = {"description": "Dengage events from a Django shop, through an outbox."}

settings_table.write(DOCS / "_generated" / "settings_table.rst")
