"""Sphinx configuration of aiouring's documentation site (tools/go docs):
the Markdown pages in docs/ (through MyST) and an API reference rendered
from the docstrings of the built package, with every warning an error."""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

project = "aiouring"
author = "the aiouring authors"
extensions = ["sphinx.ext.autodoc", "myst_parser"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["bench"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_default_options = {"undoc-members": False}
# Signatures of the Cython classes come from their docstrings.
autodoc_docstring_signature = True

html_theme = "alabaster"
html_title = "aiouring"
