"""nclib.experiments: the grids of Fig. 2-6 and Table 1, the command line, submitit sweeps."""

import json

import pytest
import torch

import offline_files
from nclib import data, experiments
from nclib.train import WD_PRESETS, RunConfig, run_name


@pytest.fixture
def offline(tmp_path, monkeypatch):
    folder = tmp_path / "data"
    folder.mkdir()
    offline_files.write_cifar(folder, n_train=20, n_test=20)
    monkeypatch.setenv("NCLIB_DATA", str(folder))
    data._raw.cache_clear()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield tmp_path / "results"
    torch.set_num_threads(threads)
    data._raw.cache_clear()


def test_paper_grids_follow_section_5_and_appendix_e():
    fig3 = experiments.grid("fig3", "paper")
    assert len(fig3) == 2 * 5
    assert {(c.loss, c.wd_features, c.wd_classifier) for c in fig3} == {
        (loss, h, w) for loss in ("mse", "ce") for h, w in WD_PRESETS.values()}
    for c in fig3:  # App. E.2 baseline schedule on the whole CIFAR-10 training set
        assert (c.dataset, c.n_per_class, c.width, c.lr, c.lr_step, c.lr_gamma, c.momentum, c.batch_size) == \
            ("cifar10", None, 64, 0.05, 40, 0.1, 0.9, 256)
    assert {c.n_per_class for c in experiments.grid("fig4", "paper")} == {3000}
    assert {c.n_per_class for c in experiments.grid("fig5", "paper")} == {5000}
    table1 = experiments.grid("table1", "paper")
    assert len(table1) == 2 * 2 * 5 * 3 and {c.epochs for c in table1} == {100}
    assert {(c.dataset, c.n_per_class) for c in table1} == {("cifar10", None), ("mnist", 3000)}
    fig6 = experiments.grid("fig6", "paper")
    assert [(c.blur, c.wd_classifier) for c in fig6] == [((), 5e-4), ((4, 9), 5e-4), ((4, 9), 5e-5), ((4, 9), 0.0)]
    (mlp,) = experiments.grid("fig2", "paper")
    assert (mlp.model, mlp.width, mlp.epochs, mlp.mlp_epochs, mlp.lr, mlp.batch_size, mlp.loss) == \
        ("mlp", 3072, 10, 3, 1e-4, 256, "ce")
    assert len({run_name(c) for c in table1}) == len(table1)  # one result file per run
    assert [c.seed for c in experiments.grid("fig3", "smoke", seeds=[4, 5])][:2] == [4, 5]


def test_unknown_experiment_is_an_error():
    with pytest.raises(ValueError, match="experiment='fig9' is unknown"):
        experiments.grid("fig9")


def test_help_lists_the_experiments(capsys):
    with pytest.raises(SystemExit):
        experiments.main(["run", "--help"])
    out = capsys.readouterr().out
    assert all(name in out for name in experiments.EXPERIMENTS)


def test_command_line_runs_an_experiment(offline, capsys):
    experiments.main(["run", "fig2", "--profile", "smoke", "--out", str(offline)])
    assert "1 runs of fig2 (smoke)" in capsys.readouterr().out
    (path,) = offline.glob("*.json")
    result = json.loads(path.read_text())
    assert result["provenance"]["profile"] == "smoke" and len(result["history"]) == 3


def test_submitit_local_executor_runs_a_two_run_sweep(offline):
    configs = [RunConfig(dataset="cifar10", model="mlp", width=8, epochs=1, mlp_epochs=1, batch_size=50,
                         wd_features=0.0, wd_classifier=0.0, seed=s, n_per_class=5, test_per_class=5)
               for s in (0, 1)]
    names = experiments.run_sweep(configs, offline, executor="local", progress=False)
    assert names == [run_name(c) for c in configs]
    for c in configs:
        assert json.loads((offline / f"{run_name(c)}.json").read_text())["seed"] == c.seed
