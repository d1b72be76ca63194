"""One figure style for the book: opaque white backgrounds, so figures stay legible in the
site's dark theme; drawn as SVG (sharp on every screen) no wider than the page column, so text
is shown at its size (10 pt, about the page's small text); and below each figure the profile
that produced it and its data as a CSV download, to re-plot without re-running the chapter."""

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
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
}


COLUMN_WIDTH = 6.8
"""Width (inches) of the widest figure: the page column at 1280 px, so text is not scaled down."""


def use_book_style() -> None:
    """Apply :data:`BOOK_STYLE` to matplotlib, and in a notebook show figures as SVG."""
    import matplotlib as mpl

    mpl.rcParams.update(BOOK_STYLE)
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is part of the book's install
        return
    if get_ipython() is not None:
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("svg")


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


def figure_data(name: str, *, profile: str | None = None, **columns) -> None:
    """Show, below a figure, the badge of the profile that produced it (default: the active
    profile) and :func:`figure_data_link`, so readers can re-plot it without re-running the
    chapter. Call it right after ``plt.show()``."""
    from IPython.display import HTML, display

    from nclib import profiles, report

    badge = report.badge(profile or profiles.current())
    display(HTML(f'<p class="nc-figure-foot">{badge} {figure_data_link(name, **columns)}</p>'))


# Axis label (matplotlib mathtext) of each per-epoch key of a training result.
METRIC_LABELS = {"nc1": "$NC_1$", "nc1_tilde": r"$\widetilde{NC}_1$", "nc2": "$NC_2$", "nc3": "$NC_3$",
                 "train_error": "training error"}


def curve_panels(panels, runs_by_panel, *, styles=None, title_prefix: str = "") -> tuple:
    """A grid of per-epoch curves of training runs (Figs. 3-6), one axis per panel.

    ``panels``: rows of ``(key, features, title)`` (e.g. ``("nc1", "penultimate", "MSE")``);
    ``runs_by_panel``: the same rows of ``{label: result}`` (the curves of that panel);
    ``styles``: label -> dict of matplotlib line keywords. The figure is as wide as the page column
    (:data:`COLUMN_WIDTH`) with one legend below every panel. Returns ``(fig, columns)``: the
    figure and the plotted data as columns for :func:`figure_data` (``epoch`` and one column per
    curve).
    """
    import matplotlib.pyplot as plt

    from nclib.analysis import curve

    rows, cols = len(panels), len(panels[0])
    fig, axes = plt.subplots(rows, cols, figsize=(COLUMN_WIDTH, 2.4 * rows + 0.6), squeeze=False,
                             layout="constrained")
    columns = {}
    for i, (panel_row, runs_row) in enumerate(zip(panels, runs_by_panel)):
        for j, ((key, features, title), runs) in enumerate(zip(panel_row, runs_row)):
            ax = axes[i, j]
            for label, result in runs.items():
                y = curve(result, key, features)
                x = np.arange(1, len(y) + 1)
                measured = np.isfinite(y)  # epochs without the eval pass are NaN: join the measured ones
                ax.semilogy(x[measured], y[measured], label=label, **(styles or {}).get(label, {}))
                columns.setdefault("epoch", x)
                columns[f"{title_prefix}{title} {key} {features} {label}".replace(" ", "_")] = y
            ax.set(xlabel="epoch" if i == rows - 1 else "", ylabel=METRIC_LABELS.get(key, key), title=title)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 3))
    return fig, columns


PRESET_STYLES = {"baseline": dict(color="black", lw=2.0), "wd2_W": dict(color="C0"),
                 "wd2_H": dict(color="C3"), "wd0_W": dict(color="C0", ls="--"), "wd0_H": dict(color="C3", ls="--")}
"""Line style of each WD preset (:data:`nclib.train.WD_PRESETS`): last-layer changes blue,
feature changes red, zeroing dashed."""


def divergence_figure(runs: dict, *, styles=None) -> tuple:
    """NC1 of the deepest features (top, log scale) and the training error (bottom) of ``runs``
    (label -> result of :func:`nclib.train.train`) against SGD steps, each divergence
    (:func:`nclib.analysis.divergences`) marked where it starts. Returns ``(fig, columns)`` as
    :func:`curve_panels` does (``step`` and one column per curve)."""
    import matplotlib.pyplot as plt

    from nclib.analysis import curve, run_divergences
    from nclib.experiments import steps_per_epoch

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(COLUMN_WIDTH, 4.6), sharex=True, layout="constrained")
    columns = {}
    for label, result in runs.items():
        c = result["config"]
        per_epoch = steps_per_epoch(c["dataset"], c["n_per_class"], c["batch_size"])
        nc1, error = curve(result, "nc1"), curve(result, "train_error")
        steps = per_epoch * np.arange(1, len(nc1) + 1)
        style = (styles or {}).get(label, {})
        measured = np.isfinite(nc1)
        line, = top.semilogy(steps[measured], nc1[measured], label=label, **style)
        bottom.plot(steps[measured], error[measured], color=line.get_color(), **{k: v for k, v in style.items()
                                                                                 if k != "color"})
        for d in run_divergences(result):
            for ax in (top, bottom):
                ax.axvline(per_epoch * d["start"], color=line.get_color(), lw=0.8, ls=":")
        columns.setdefault("step", steps)
        columns[f"{label} nc1".replace(" ", "_")] = nc1
        columns[f"{label} train_error".replace(" ", "_")] = error
    top.set(ylabel=METRIC_LABELS.get("nc1", "nc1"))
    bottom.set(xlabel="SGD step", ylabel="training error")
    fig.legend(*top.get_legend_handles_labels(), loc="outside lower center", ncol=len(runs))
    return fig, columns
