"""One figure style for the book: opaque white backgrounds, so figures stay legible in the
site's dark theme, and sizes that read well in a page column; and each figure's data as a
CSV download below it, to re-plot without re-running the chapter."""

from __future__ import annotations

import base64
import csv
import io
import re

import numpy as np

BOOK_STYLE = {
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "savefig.transparent": False,
    "figure.figsize": (6.4, 3.6),
    "figure.dpi": 110,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
}


def use_book_style() -> None:
    """Apply :data:`BOOK_STYLE` to matplotlib (call after ``%matplotlib inline``)."""
    import matplotlib as mpl

    mpl.rcParams.update(BOOK_STYLE)


def figure_csv(**columns) -> str:
    """The CSV text of a figure's data: one column per keyword, in the order given.

    Each value is a 1-D sequence of numbers or strings; all have the same length. Floats are
    written with ``repr`` precision (17 significant digits), so a re-plot is exact.
    """
    if not columns:
        raise ValueError("figure_csv: give at least one column, e.g. step=..., nc1=...")
    arrays = {}
    for name, values in columns.items():
        array = np.asarray(values)
        if array.ndim != 1:
            raise ValueError(f"figure_csv: column {name!r} must be 1-D, got shape {array.shape}")
        arrays[name] = array
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"figure_csv: columns must have equal lengths, got {lengths}")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(arrays)
    writer.writerows(zip(*(array.tolist() for array in arrays.values())))
    return out.getvalue()


def figure_data_link(name: str, **columns) -> str:
    """An HTML link that downloads :func:`figure_csv` of ``columns`` as ``<name>.csv``.

    The CSV travels inside the link (a base64 ``data:`` URI): no file is written, and the link
    works alike on the built site, in Colab and in Jupyter.
    """
    if not isinstance(name, str):
        raise TypeError(f"figure_data_link: name must be a str, got {type(name).__name__}")
    if not re.fullmatch(r"[A-Za-z0-9][\w.-]*", name):
        raise ValueError(f"figure_data_link: name must be a file stem of letters, digits, "
                         f"'_', '-' or '.', got {name!r}")
    payload = base64.b64encode(figure_csv(**columns).encode("utf-8")).decode("ascii")
    filename = f"{name}.csv"
    return (f'<a class="figure-data" download="{filename}" '
            f'href="data:text/csv;base64,{payload}">figure data ({filename})</a>')


def figure_data(name: str, **columns) -> None:
    """Show :func:`figure_data_link` below a figure, so readers can re-plot it without
    re-running the chapter. Call it right after ``plt.show()``."""
    from IPython.display import HTML, display

    display(HTML(figure_data_link(name, **columns)))
