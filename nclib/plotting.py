"""One figure style for the book: opaque white backgrounds, so figures stay legible in the
site's dark theme; drawn as SVG (sharp on every screen) no wider than the page column, so that
the browser shows them at their natural size and their text at :data:`FONT_PT` (about the page's
small text); log axes that span less than a decade labelled in plain decimals; and below each
figure what produced it (a profile, or the exact theory) and its data as a CSV download, to
re-plot without re-running the chapter."""

from __future__ import annotations

import base64
import csv
import html
import io
import re

import numpy as np

FONT_PT = 10.5
"""Size (points) of every text in a figure: tick labels, axis labels, titles, legends, colour
bars. At :data:`DPI` it is 14 CSS px at the figure's natural size, the size of the page's code
and table text (13.6-14 px)."""

DPI = 96
"""CSS pixels per inch of a figure at its natural size. Figures are SVG, sized in points (72 per
inch), which browsers draw at 96 CSS px per inch; a figure ``w`` inches wide is ``w * DPI`` px
wide at its natural size. (Also matplotlib's ``figure.dpi``, for raster output.)"""

COLUMN_WIDTH = 6.8
"""Width (inches) of the widest figure: 653 px at :data:`DPI`, within the page column (a cell's
output is 688 px wide at a 1280-px window), so the browser does not scale it down."""


def text_px(displayed_width: float, natural_width: float) -> float:
    """Height (CSS px) of a figure's text when the figure, ``natural_width`` px wide at its natural
    size, is displayed ``displayed_width`` px wide: ``FONT_PT * DPI / 72 * displayed / natural``."""
    if not (displayed_width > 0 and natural_width > 0):
        raise ValueError(f"text_px: widths must be positive, got {displayed_width}, {natural_width}")
    return FONT_PT * DPI / 72 * displayed_width / natural_width


BOOK_STYLE = {
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "savefig.transparent": False,
    "figure.figsize": (COLUMN_WIDTH, 3.6),
    "figure.dpi": DPI,
    "savefig.dpi": "figure",
    "font.size": FONT_PT,
    "axes.titlesize": FONT_PT,
    "axes.labelsize": FONT_PT,
    "xtick.labelsize": FONT_PT,
    "ytick.labelsize": FONT_PT,
    "legend.fontsize": FONT_PT,
    "legend.title_fontsize": FONT_PT,
    "figure.titlesize": FONT_PT,
    "figure.labelsize": FONT_PT,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
}
"""matplotlib settings of the book's figures (:func:`use_book_style`)."""


def use_book_style() -> None:
    """Apply :data:`BOOK_STYLE` to matplotlib, tick and label every log axis as
    :func:`decimal_log_ticks` does, and in a notebook show figures as SVG."""
    import matplotlib as mpl
    import matplotlib.scale

    mpl.rcParams.update(BOOK_STYLE)
    matplotlib.scale.register_scale(_book_log_scale())
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is part of the book's install
        return
    if get_ipython() is not None:
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("svg")


def subplots(nrows: int = 1, ncols: int = 1, *, height: float, **kwargs) -> tuple:
    """``plt.subplots`` for a figure as wide as the page column (:data:`COLUMN_WIDTH`) and
    ``height`` inches high, laid out by matplotlib's constrained layout. Returns ``(fig, axes)``."""
    import matplotlib.pyplot as plt

    if "figsize" in kwargs:
        raise TypeError("subplots: the width is COLUMN_WIDTH; give height= instead of figsize=")
    kwargs.setdefault("layout", "constrained")
    return plt.subplots(nrows, ncols, figsize=(COLUMN_WIDTH, height), **kwargs)


def stamp(kind: str, profile: str | None = None) -> str:
    """The provenance stamp of a figure's title: ``"[exact: float64 theory]"`` for a figure of the
    theory computed in float64 to the chapter's tolerances, not a reduced experiment
    (``kind="theory"``; ``", smoke sizes"`` added at the smoke profile, whose grids are cut down);
    ``"[profile: <profile>]"`` for an experiment run at a profile (``kind="experiment"``).
    ``profile`` defaults to the active one."""
    from nclib import profiles

    profile = profile or profiles.current()
    if kind == "theory":
        return "[exact: float64 theory, smoke sizes]" if profile == "smoke" else "[exact: float64 theory]"
    if kind == "experiment":
        return f"[profile: {profile}]"
    raise ValueError(f"stamp: kind must be 'theory' or 'experiment', got {kind!r}")


PUBLISHED = "published, Tirer et al. 2023"
"""Legend name of numbers taken from the published paper."""


def source_label(source: str) -> str:
    """Legend name of where a curve's numbers come from: ``"published"`` -> :data:`PUBLISHED`
    (the paper's own numbers); a profile name -> ``"<profile> profile"`` (computed here at that
    profile: ``"paper profile"`` is a run at the paper's settings, not its published numbers)."""
    from nclib import profiles

    if source == "published":
        return PUBLISHED
    if source in profiles.PROFILES:
        return f"{source} profile"
    raise ValueError(f"source_label: expected 'published' or one of {profiles.PROFILES}, got {source!r}")


def _decimal_label(x: float, locs) -> str:
    """``x`` in plain decimals with as many decimal places as the spacing of ``locs`` needs; in
    mathtext ``m x 10^e`` outside [1e-3, 1e5)."""
    locs = np.unique(np.asarray([v for v in locs if np.isfinite(v) and v > 0], dtype=float))
    step = float(np.min(np.diff(locs))) if locs.size > 1 else None
    scale = max(float(np.max(locs)) if locs.size else abs(x), abs(x))
    if not 1e-3 <= scale < 1e5:
        exponent = int(np.floor(np.log10(scale)))
        digits = 0 if step is None else max(0, int(np.ceil(exponent - np.log10(step) - 1e-6)))
        return rf"${x / 10.0 ** exponent:.{digits}f}\times10^{{{exponent}}}$"
    if step is None:
        return f"{x:.3g}"
    return f"{x:.{max(0, int(np.ceil(-np.log10(step) - 1e-6)))}f}"


_CLASSES = {}  # the matplotlib subclasses below, made on first use


def _decimal_log_formatter_class():
    """The class of :func:`decimal_log_formatter` (made on first use: matplotlib is imported
    only by the book's figures)."""
    if "formatter" not in _CLASSES:
        from matplotlib.ticker import LogFormatterSciNotation

        class DecimalLogFormatter(LogFormatterSciNotation):
            """Log-axis tick labels as matplotlib's (``10^k``, ``2x10^k``), but in plain
            decimals (0.9, 1.05) while the axis spans less than one factor of the base."""

            def set_locs(self, locs=None):
                self._tick_locs = [] if locs is None else list(locs)
                super().set_locs(locs)

            def __call__(self, x, pos=None):
                vmin, vmax = sorted(self.axis.get_view_interval()) if self.axis is not None else (0, 0)
                if vmin > 0 and vmax / vmin < self._base and x > 0:
                    shown = [v for v in getattr(self, "_tick_locs", [])
                             if vmin * (1 - 1e-9) <= v <= vmax * (1 + 1e-9)]
                    label = _decimal_label(x, shown or [x])
                    return label if label.startswith("$") else self.fix_minus(label)
                return super().__call__(x, pos)

        _CLASSES["formatter"] = DecimalLogFormatter
    return _CLASSES["formatter"]


def decimal_log_formatter(base: float = 10.0, **kwargs):
    """A tick formatter for a log axis: matplotlib's ``LogFormatterSciNotation(base, **kwargs)``
    on an axis that spans a decade or more; plain decimals (``1.05``, not ``1.05 x 10^0``) on one
    that spans less."""
    return _decimal_log_formatter_class()(base, **kwargs)


def _decimal_log_locator_class():
    """The class of :func:`decimal_log_locator` (made on first use)."""
    if "locator" not in _CLASSES:
        from matplotlib.ticker import LogLocator, MaxNLocator

        class DecimalLogLocator(LogLocator):
            """Log-axis ticks as matplotlib's ``LogLocator``; on an axis that spans less than one
            factor of the base, ticks at round decimals (as a linear axis has them: steps of 1, 2,
            2.5 or 5 times a power of ten, as many as the axis has room for) and no minor ticks."""

            def __init__(self, base=10.0, subs=(1.0,), *, minor=False, **kwargs):
                super().__init__(base, subs, **kwargs)
                self.minor = minor

            def tick_values(self, vmin, vmax):
                lo, hi = sorted((vmin, vmax))
                if lo > 0 and hi / lo < self._base:
                    if self.minor:
                        return np.array([])
                    linear = MaxNLocator(nbins="auto" if self.axis is not None else 5, steps=[1, 2, 2.5, 5, 10])
                    if self.axis is not None:
                        linear.set_axis(self.axis)
                    ticks = linear.tick_values(lo, hi)
                    return ticks[ticks > 0]
                return super().tick_values(vmin, vmax)

        _CLASSES["locator"] = DecimalLogLocator
    return _CLASSES["locator"]


def decimal_log_locator(base: float = 10.0, subs=(1.0,), *, minor: bool = False):
    """A tick locator for a log axis: matplotlib's ``LogLocator(base, subs)`` on an axis that
    spans a decade or more; round decimal ticks (0.4, 0.6, 0.8, 1), and no minor ticks, on one that
    spans less, where log ticks bunch up towards the top and are labelled ``1.05 x 10^0``."""
    return _decimal_log_locator_class()(base, subs, minor=minor)


def decimal_log_ticks(ax) -> None:
    """Tick and label the log axes of ``ax`` with :func:`decimal_log_locator` and
    :func:`decimal_log_formatter` (major and minor ticks)."""
    for axis in (ax.xaxis, ax.yaxis):
        if axis.get_scale() == "log":
            base = axis.get_transform().base
            axis.set_major_locator(decimal_log_locator(base))
            axis.set_minor_locator(decimal_log_locator(base, None, minor=True))
            axis.set_major_formatter(decimal_log_formatter(base))
            axis.set_minor_formatter(decimal_log_formatter(base, labelOnlyBase=False))


def _book_log_scale():
    """matplotlib's log scale, registered under its name ``"log"`` by :func:`use_book_style`,
    ticked and labelled by :func:`decimal_log_locator` and :func:`decimal_log_formatter`."""
    if "scale" not in _CLASSES:
        from matplotlib.scale import LogScale

        class BookLogScale(LogScale):
            """``LogScale`` with :func:`decimal_log_locator` ticks and
            :func:`decimal_log_formatter` labels."""

            name = "log"

            def __init__(self, *args, **kwargs):  # matplotlib < 3.11 passes the axis, later not
                super().__init__(*args, **kwargs)

            def set_default_locators_and_formatters(self, axis):
                super().set_default_locators_and_formatters(axis)
                axis.set_major_locator(decimal_log_locator(self.base))
                axis.set_minor_locator(decimal_log_locator(self.base, self.subs, minor=True))
                axis.set_major_formatter(decimal_log_formatter(self.base))
                axis.set_minor_formatter(decimal_log_formatter(self.base, labelOnlyBase=self.subs is not None))

        _CLASSES["scale"] = BookLogScale
    return _CLASSES["scale"]


def mark_clipped(ax, x, y, *, low: float | None = None, high: float | None = None, **style) -> int:
    """Mark where the curve ``(x, y)`` first leaves the y-range ``[low, high]`` of ``ax``: a
    triangle on the axis edge (pointing down below ``low``, up above ``high``) at the ``x`` where
    it crosses. Sets no limits. Returns the number of marks drawn (0, 1 or 2)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    marks = 0
    for bound, outside, marker in ((low, np.less, "v"), (high, np.greater, "^")):
        if bound is None:
            continue
        out = np.flatnonzero(outside(y, bound))
        if out.size:
            ax.plot([x[out[0]]], [bound], marker=marker, ls="none", clip_on=False, zorder=5, **style)
            marks += 1
    return marks


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


def figure_data(name: str, *, kind: str = "experiment", profile: str | None = None, **columns) -> None:
    """Show, below a figure, what produced it and :func:`figure_data_link`, so readers can re-plot
    it without re-running the chapter. ``kind="experiment"``: the badge of the profile that ran it
    (default: the active profile); ``kind="theory"``: a badge saying that the figure is the theory
    computed in float64 (:func:`stamp`), with the profile that set its cases in the badge's
    tooltip. Call it right after ``plt.show()``."""
    from IPython.display import HTML, display

    from nclib import profiles, report

    profile = profile or profiles.current()
    if kind == "theory":
        text = stamp("theory", profile).strip("[]")
        badge = (f'<span class="nc-badge nc-badge-exact" title="the theory computed in float64 to the '
                 f'chapter\'s tolerances, not a reduced experiment; its cases are those of the '
                 f'{html.escape(profile)} profile">{html.escape(text)}</span>')
    elif kind == "experiment":
        badge = report.badge(profile)
    else:
        raise ValueError(f"figure_data: kind must be 'theory' or 'experiment', got {kind!r}")
    display(HTML(f'<p class="nc-figure-foot">{badge} {figure_data_link(name, **columns)}</p>'))


# Axis label (matplotlib mathtext) of each per-epoch key of a training result.
METRIC_LABELS = {"nc1": "$NC_1$", "nc1_tilde": r"$\widetilde{NC}_1$", "nc2": "$NC_2$", "nc3": "$NC_3$",
                 "train_error": "training error"}


def curve_panels(panels, runs_by_panel, *, styles=None, title_prefix: str = "") -> tuple:
    """A grid of per-epoch curves of training runs (Figs. 3-6), one axis per panel.

    ``panels``: rows of ``(key, features, title)`` (e.g. ``("nc1", "penultimate", "MSE")``);
    ``runs_by_panel``: the same rows of ``{label: result}`` (the curves of that panel);
    ``styles``: label -> dict of matplotlib line keywords. The figure is as wide as the page column
    (:data:`COLUMN_WIDTH`), with one legend below the panels naming the curves of every panel.
    Returns ``(fig, columns)``: the figure and the plotted data as columns for :func:`figure_data`
    (``epoch`` and one column per curve).
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
            decimal_log_ticks(ax)
            ax.set(xlabel="epoch" if i == rows - 1 else "", ylabel=METRIC_LABELS.get(key, key), title=title)
    legend = {}  # every curve's label once, from whichever panel draws it first
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, handle)
    fig.legend(legend.values(), legend.keys(), loc="outside lower center", ncol=min(len(legend), 3))
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
    decimal_log_ticks(top)
    top.set(ylabel=METRIC_LABELS.get("nc1", "nc1"))
    bottom.set(xlabel="SGD step", ylabel="training error")
    fig.legend(*top.get_legend_handles_labels(), loc="outside lower center", ncol=len(runs))
    return fig, columns
