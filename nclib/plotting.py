"""One figure style for the book: opaque white backgrounds, so figures stay legible in the
site's dark theme, and sizes that read well in a page column."""

from __future__ import annotations

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
