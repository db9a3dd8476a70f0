"""Sphinx configuration of smlcr's documentation site.

Build: ``python -m sphinx -W -b html docs docs/_build/html`` (warnings are errors; CI runs it).
"""

project = "smlcr"
author = "the smlcr developers"
copyright = "2026, the smlcr developers"

extensions = [
    "myst_parser",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build"]
templates_path = ["_templates"]
myst_heading_anchors = 4  # links such as estimation.md#standard-errors resolve
myst_enable_extensions = ["colon_fence"]
numpydoc_show_class_members = False
autodoc_typehints = "none"  # numpydoc sections carry the types
autosummary_generate = True
html_theme = "alabaster"
html_static_path: list = []
suppress_warnings = ["myst.header"]


def _draw_plots() -> None:
    """Run the code block of ``plots.md`` in ``_static``, making the figures it shows."""
    import os
    import re
    import warnings
    from pathlib import Path

    here = Path(__file__).resolve().parent
    static = here / "_static"
    static.mkdir(exist_ok=True)
    block = re.findall(r"```python\n(.*?)```", (here / "plots.md").read_text(), re.S)[0]
    cwd = os.getcwd()
    os.chdir(static)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exec(compile(block, "plots.md", "exec"), {})
    finally:
        os.chdir(cwd)


_draw_plots()
