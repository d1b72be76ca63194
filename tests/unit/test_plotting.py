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
