"""The ".ipynb" download of each page offers the notebook as executed for the site.

sphinx-book-theme's download button links ``_sources/<page>.ipynb``, the source notebook, which is
committed without outputs. MyST-NB writes each notebook it executed to ``jupyter_execute/`` beside
the HTML folder; once the build has finished, this copies it over the source copy, so the download
holds the numbers and figures shown on the page.
"""

from __future__ import annotations

import shutil
from pathlib import Path


def _copy_executed(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    executed = Path(app.outdir).parent / "jupyter_execute"
    for notebook in executed.rglob("*.ipynb"):
        target = Path(app.outdir) / "_sources" / notebook.relative_to(executed)
        if target.is_file():
            shutil.copyfile(notebook, target)


def setup(app):
    app.connect("build-finished", _copy_executed)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
