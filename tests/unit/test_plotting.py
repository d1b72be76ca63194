"""nclib.plotting: the book style and the figure-data download link below each figure."""

import base64
import csv
import io
import re

import numpy as np
import pytest

from nclib import plotting

LINK = re.compile(r'<a class="figure-data" download="([^"]+)" '
                  r'href="data:text/csv;base64,([A-Za-z0-9+/=]+)">figure data \(([^)]+)\)</a>')


def _decode(link: str) -> tuple[str, list[list[str]]]:
    """(download file name, CSV rows) of a figure-data link, decoded by the standard library."""
    match = LINK.fullmatch(link)
    assert match, f"not a figure-data link: {link[:120]}"
    assert match.group(1) == match.group(3)
    text = base64.b64decode(match.group(2), validate=True).decode("utf-8")
    return match.group(1), list(csv.reader(io.StringIO(text)))


def test_use_book_style_gives_opaque_white_figures():
    import matplotlib as mpl

    plotting.use_book_style()
    assert mpl.colors.to_rgba(mpl.rcParams["figure.facecolor"]) == (1.0, 1.0, 1.0, 1.0)
    assert mpl.rcParams["savefig.transparent"] is False


def test_link_round_trips_the_columns_exactly():
    rng = np.random.default_rng(0)
    step = np.arange(7)
    nc1 = rng.lognormal(size=7) * 1e-9  # tiny values: precision must survive the text form
    name, rows = _decode(plotting.figure_data_link("ch1-metrics", step=step, nc1=nc1,
                                                   label=list("abcdefg")))
    assert name == "ch1-metrics.csv"
    assert rows[0] == ["step", "nc1", "label"]
    assert len(rows) == 1 + 7
    # float64 -> text -> float64 must be the identity (repr precision), not merely close
    assert np.array_equal(np.array([float(r[1]) for r in rows[1:]]), nc1)
    assert [int(r[0]) for r in rows[1:]] == step.tolist()
    assert [r[2] for r in rows[1:]] == list("abcdefg")


def test_csv_keeps_column_order():
    text = plotting.figure_csv(z=[1], a=[2], m=[3])
    assert text.splitlines() == ["z,a,m", "1,2,3"]


@pytest.mark.parametrize("columns, match", [
    ({}, "at least one column"),
    ({"x": [1, 2], "y": [1, 2, 3]}, "equal lengths"),
    ({"x": np.zeros((2, 2))}, "column 'x' must be 1-D"),
    ({"x": 3.0}, "column 'x' must be 1-D"),
])
def test_bad_columns_are_rejected(columns, match):
    with pytest.raises(ValueError, match=match):
        plotting.figure_data_link("fig", **columns)


@pytest.mark.parametrize("name", ["", "a b", "../x", "a\"b", "-x"])
def test_bad_names_are_rejected(name):
    with pytest.raises(ValueError, match="name must be a file stem"):
        plotting.figure_data_link(name, x=[1])


def test_name_must_be_a_string():
    with pytest.raises(TypeError, match="name must be a str"):
        plotting.figure_data_link(3, x=[1])


def test_figure_data_displays_the_link(monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", shown.append)
    assert plotting.figure_data("fig", profile="medium", x=[0.5, 1.5]) is None
    assert len(shown) == 1
    html = shown[0].data
    assert 'class="nc-badge nc-badge-medium"' in html and html.index("nc-badge") < html.index("figure-data")
    name, rows = _decode(re.search(r"<a class=\"figure-data\".*?</a>", html).group(0))
    assert name == "fig.csv" and rows == [["x"], ["0.5"], ["1.5"]]


def test_figure_data_names_the_active_profile_by_default(monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", shown.append)
    monkeypatch.setenv("NCLIB_PROFILE", "small")
    plotting.figure_data("fig", x=[1])
    assert "profile: small" in shown[0].data


def test_curve_panels_plots_every_run_and_returns_its_data():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def run(values):
        return {"config": {"lr_step": 1},
                "history": [{"epoch": i + 1, "nc": {"penultimate": {"nc1": v, "nc2": v / 2}}}
                            for i, v in enumerate(values)]}

    runs = {"a": run([3.0, 2.0]), "b": run([4.0, 1.0])}
    fig, columns = plotting.curve_panels([[("nc1", "penultimate", "top"), ("nc2", "penultimate", "top")]],
                                         [[runs, runs]], styles={"a": {"color": "red"}})
    assert len(fig.axes) == 2 and [len(ax.lines) for ax in fig.axes] == [2, 2]
    assert columns["epoch"].tolist() == [1, 2] and columns["top_nc2_penultimate_b"].tolist() == [2.0, 0.5]
    assert fig.axes[0].lines[0].get_color() == "red"
    assert fig.get_figwidth() == plotting.COLUMN_WIDTH  # shown at its size in the page column
    (legend,) = fig.legends  # one legend for every panel
    assert [t.get_text() for t in legend.get_texts()] == ["a", "b"]
    plt.close(fig)


# --- sizes, text, log axes, stamps ---------------------------------------------------------

PAGE_SMALL_TEXT_PX = 13.6  # the page's small text (profile badges, result tables) at 1280 px
CELL_OUTPUT_PX = 688  # width of a cell's output in the page column at a 1280-px window


def _agg():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plotting.use_book_style()
    return plt


def test_text_is_at_least_the_page_small_text_at_natural_size():
    assert plotting.text_px(500, 500) == pytest.approx(plotting.FONT_PT * plotting.DPI / 72)
    assert plotting.text_px(500, 500) >= PAGE_SMALL_TEXT_PX
    assert plotting.COLUMN_WIDTH * plotting.DPI <= CELL_OUTPUT_PX  # shown unscaled in the column
    assert plotting.text_px(250, 500) == pytest.approx(plotting.text_px(500, 500) / 2)
    with pytest.raises(ValueError, match="positive"):
        plotting.text_px(0, 500)


def test_book_style_sets_every_text_size_to_font_pt():
    import matplotlib as mpl

    _agg()
    keys = ("font.size", "axes.titlesize", "axes.labelsize", "xtick.labelsize", "ytick.labelsize",
            "legend.fontsize", "legend.title_fontsize", "figure.titlesize", "figure.labelsize")
    sizes = {k: mpl.font_manager.FontProperties(size=mpl.rcParams[k]).get_size_in_points() for k in keys}
    assert sizes == dict.fromkeys(keys, plotting.FONT_PT)
    assert mpl.rcParams["figure.dpi"] == plotting.DPI


def _texts(fig):
    from matplotlib.text import Text

    fig.canvas.draw()
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


def _runs():
    def run(values, nc2):
        return {"config": {"lr_step": 1},
                "history": [{"epoch": i + 1, "nc": {"penultimate": {"nc1": v, "nc2": w}}}
                            for i, (v, w) in enumerate(zip(values, nc2))]}

    return {"a": run([3.0, 1e-2, 1e-4], [1.10, 1.06, 1.03]), "b": run([4.0, 1e-1, 1e-3], [1.08, 1.05, 1.04])}


def test_curve_panels_text_is_font_pt_and_fits_the_column():
    plt = _agg()
    runs = _runs()
    fig, _ = plotting.curve_panels([[("nc1", "penultimate", "NC1"), ("nc2", "penultimate", "NC2")]], [[runs, runs]])
    small = [(t.get_text(), t.get_fontsize()) for t in _texts(fig) if t.get_fontsize() < plotting.FONT_PT]
    assert not small
    out = io.BytesIO()
    fig.savefig(out, format="svg", bbox_inches="tight")  # as a notebook shows it
    width_pt = float(re.search(rb'<svg[^>]*width="([0-9.]+)pt"', out.getvalue()).group(1))
    assert width_pt * 96 / 72 <= CELL_OUTPUT_PX
    plt.close(fig)


def _tick_labels(ax, axis="y"):
    """The labels of the ticks drawn inside the view, major and minor."""
    ax.figure.canvas.draw()
    a = getattr(ax, f"{axis}axis")
    lo, hi = sorted(a.get_view_interval())
    return [t.label1.get_text() for t in a.get_major_ticks() + a.get_minor_ticks()
            if lo <= t.get_loc() <= hi and t.label1.get_visible() and t.label1.get_text()]


def test_log_axis_within_a_decade_is_labelled_in_plain_decimals():
    plt = _agg()
    fig, ax = plt.subplots()
    ax.semilogy([1, 2, 3], [1.03, 1.06, 1.10])  # NC2-like: less than a decade
    labels = _tick_labels(ax)
    assert len(labels) >= 2
    assert all(re.fullmatch(r"\d+\.\d+|\d+", s) for s in labels), labels  # no "1.05 x 10^0"
    values = [float(s) for s in labels]
    assert min(values) >= 1.0 and max(values) <= 1.11 and len(set(labels)) == len(labels)
    plt.close(fig)


def test_log_axis_over_decades_keeps_powers_of_ten():
    plt = _agg()
    fig, ax = plt.subplots()
    ax.loglog([1, 10, 100], [1e-6, 1e-3, 1.0])
    labels = _tick_labels(ax)
    assert labels and all("10^" in s for s in labels), labels
    plt.close(fig)


def test_curve_panels_nc2_panel_is_labelled_in_decimals_without_the_book_style(monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.scale

    monkeypatch.setitem(matplotlib.scale._scale_mapping, "log", matplotlib.scale.LogScale)  # matplotlib's own
    fig, _ = plotting.curve_panels([[("nc2", "penultimate", "NC2")]], [[_runs()]])
    labels = _tick_labels(fig.axes[0])
    assert labels and not any("10^" in s for s in labels), labels
    plt.close(fig)


@pytest.mark.parametrize("x, locs, text", [
    (1.05, [1.0, 1.05, 1.1], "1.05"),
    (0.3, [0.2, 0.3, 0.4], "0.3"),
    (20000.0, [20000.0, 30000.0], "20000"),
    (0.0015, [0.0012, 0.0014, 0.0016], "0.0015"),
    (3e-7, [2e-7, 3e-7], r"$3\times10^{-7}$"),
    (1.0, [1.0], "1"),
])
def test_decimal_labels_have_the_places_the_tick_spacing_needs(x, locs, text):
    assert plotting._decimal_label(x, locs) == text


@pytest.mark.parametrize("kind, profile, text", [
    ("theory", "small", "[exact: float64 theory]"),
    ("theory", "paper", "[exact: float64 theory]"),
    ("theory", "smoke", "[exact: float64 theory, smoke sizes]"),
    ("experiment", "medium", "[profile: medium]"),
])
def test_stamp_says_what_the_figure_is(kind, profile, text):
    assert plotting.stamp(kind, profile) == text


def test_stamp_defaults_to_the_active_profile_and_rejects_other_kinds(monkeypatch):
    monkeypatch.setenv("NCLIB_PROFILE", "small")
    assert plotting.stamp("experiment") == "[profile: small]"
    with pytest.raises(ValueError, match="kind must be"):
        plotting.stamp("exact")


def test_figure_data_of_a_theory_figure_says_exact_not_profile(monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", shown.append)
    plotting.figure_data("fig", kind="theory", profile="small", x=[1])
    html = shown[0].data
    assert 'class="nc-badge nc-badge-exact"' in html and ">exact: float64 theory<" in html
    assert "profile: small" not in html and "small profile" in html  # the grid's profile, in the tooltip
    with pytest.raises(ValueError, match="kind must be"):
        plotting.figure_data("fig", kind="exact", x=[1])


def test_source_label_keeps_published_numbers_apart_from_the_paper_profile():
    assert plotting.source_label("published") == plotting.PUBLISHED
    assert "published" in plotting.PUBLISHED and "paper" not in plotting.PUBLISHED.split(",")[0]
    assert plotting.source_label("paper") == "paper profile"
    with pytest.raises(ValueError, match="expected 'published'"):
        plotting.source_label("tirer")


def test_mark_clipped_marks_where_a_curve_leaves_the_range():
    plt = _agg()
    fig, ax = plt.subplots()
    x = np.array([1.0, 2.0, 3.0, 4.0])
    assert plotting.mark_clipped(ax, x, [1.0, 5.0, 50.0, 500.0], high=10.0) == 1
    (mark,) = ax.lines
    assert mark.get_marker() == "^" and mark.get_xdata().tolist() == [3.0] and mark.get_ydata().tolist() == [10.0]
    assert plotting.mark_clipped(ax, x, [1.0, 0.5, 0.1, 1e-9], low=0.2, high=10.0) == 1
    assert ax.lines[-1].get_marker() == "v" and ax.lines[-1].get_xdata().tolist() == [3.0]
    assert plotting.mark_clipped(ax, x, [1.0, 2.0, 3.0, 4.0], low=0.5, high=10.0) == 0
    plt.close(fig)


def test_subplots_are_as_wide_as_the_column():
    plt = _agg()
    fig, axes = plotting.subplots(2, 1, height=5.0)
    assert tuple(fig.get_size_inches()) == (plotting.COLUMN_WIDTH, 5.0) and len(axes) == 2
    plt.close(fig)
    with pytest.raises(TypeError, match="height="):
        plotting.subplots(figsize=(9, 3), height=3)


def test_curve_panels_legend_names_the_curves_of_every_panel():
    plt = _agg()
    runs = _runs()
    fig, _ = plotting.curve_panels([[("nc1", "penultimate", "MSE")], [("nc1", "penultimate", "CE")]],
                                   [[{"a": runs["a"]}], [runs]])  # "b" only in the second panel
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["a", "b"]
    plt.close(fig)


def test_log_axis_within_a_decade_has_room_between_its_labels():
    plt = _agg()
    fig, ax = plotting.subplots(height=2.4)
    ax.semilogy(np.arange(30), np.linspace(1.15, 0.25, 30))  # log ticks would bunch up near the top
    labels = [t for t in _tick_labels(ax) if t]
    locs = sorted(float(s) for s in labels)
    lo, hi = sorted(ax.get_ylim())
    gaps_px = np.diff(np.log10(locs)) / np.log10(hi / lo) * ax.bbox.height * 96 / fig.dpi
    assert len(locs) >= 3 and min(gaps_px) >= 1.2 * plotting.text_px(1, 1), (labels, gaps_px)
    plt.close(fig)
