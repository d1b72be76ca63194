"""nclib.experiments: the grids of Fig. 2-6 and Table 1, the command line, submitit sweeps."""

import json

import pytest
import torch

import offline_files
from nclib import cli, data, experiments, profiles
from nclib.train import WD_PRESETS, RunConfig, run_name


@pytest.fixture
def offline(tmp_path, monkeypatch):
    offline_files.use_offline_cifar(tmp_path, monkeypatch, n_train=20, n_test=20)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield tmp_path / "results"
    torch.set_num_threads(threads)
    data._raw.cache_clear()


def test_paper_grids_follow_section_5_and_appendix_e():
    fig3 = experiments.grid("fig3", "paper")
    assert len(fig3) == 2 * 5
    assert {(c.loss, c.wd_features, c.wd_classifier) for c in fig3.values()} == {
        (loss, h, w) for loss in ("mse", "ce") for h, w in WD_PRESETS.values()}
    for (dataset, loss, preset, seed), c in fig3.items():  # keys name what the config holds
        assert (dataset, loss, (c.wd_features, c.wd_classifier), seed) == \
            (c.dataset, c.loss, WD_PRESETS[preset], c.seed)
    for c in fig3.values():  # App. E.2 baseline schedule on the whole CIFAR-10 training set
        assert (c.dataset, c.n_per_class, c.width, c.lr, c.lr_step, c.lr_gamma, c.momentum, c.batch_size) == \
            ("cifar10", None, 64, 0.05, 40, 0.1, 0.9, 256)
    assert {c.n_per_class for c in experiments.grid("fig4", "paper").values()} == {3000}
    assert {c.n_per_class for c in experiments.grid("fig5", "paper").values()} == {5000}
    table1 = experiments.grid("table1", "paper")
    assert len(table1) == 2 * 2 * 5 * 3
    assert {(c.dataset, c.n_per_class) for c in table1.values()} == {("cifar10", None), ("mnist", 3000)}
    # Table 1 is read out of the runs of Fig. 3 and Fig. 4: seed 0 is the same run (same file)
    shared = {k: c for k, c in table1.items() if k[3] == 0}
    assert shared == {**experiments.grid("fig3", "paper"), **experiments.grid("fig4", "paper")}
    assert profiles.settings("experiments", "paper").table1_epoch == 100
    fig6 = experiments.grid("fig6", "paper")
    assert [(c.blur, c.wd_features, c.wd_classifier) for c in fig6.values()] == [
        ((), 5e-4, 5e-4), ((4, 9), 5e-4, 5e-4), ((4, 9), 5e-4, 5e-5), ((4, 9), 5e-4, 0.0)]
    assert fig6[("mnist", "ce", "baseline", 0)] == experiments.grid("fig4", "paper")[("mnist", "ce", "baseline", 0)]
    (mlp,) = experiments.grid("fig2", "paper").values()
    assert (mlp.model, mlp.width, mlp.epochs, mlp.mlp_epochs, mlp.lr, mlp.batch_size, mlp.loss) == \
        ("mlp", 3072, 10, 3, 1e-4, 256, "ce")
    assert len({run_name(c) for c in table1.values()}) == len(table1)  # one result file per run
    assert [c.seed for c in experiments.grid("fig3", "smoke", seeds=[4, 5]).values()][:2] == [4, 5]


def test_reduced_profiles_scale_every_weight_decay_alike():
    for profile in ("smoke", "small"):
        scale = profiles.settings("experiments", profile).wd_scale
        for key, c in experiments.grid("fig3", profile).items():
            wd_h, wd_w = WD_PRESETS[key[2]]
            assert (c.wd_features, c.wd_classifier) == pytest.approx((wd_h * scale, wd_w * scale), rel=1e-15)


def test_describe_marks_what_differs_from_the_paper():
    text = experiments.describe("fig3", "small")
    rows = {line.split()[0]: line for line in text.splitlines()[1:]}
    assert rows["width"].endswith("<- differs") and rows["lr"].split()[1:] == ["0.05", "0.05"]
    assert "<- differs" not in experiments.describe("fig3", "paper")


def test_unknown_experiment_is_an_error():
    with pytest.raises(ValueError, match="experiment='fig9' is unknown"):
        experiments.grid("fig9")


def test_help_lists_the_experiments(capsys):
    with pytest.raises(SystemExit):
        cli.main(["run", "--help"])
    out = capsys.readouterr().out
    assert all(name in out for name in experiments.EXPERIMENTS)


def test_command_line_runs_an_experiment(offline, capsys):
    cli.main(["run", "fig2", "--profile", "smoke", "--out", str(offline)])
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


def test_run_returns_results_by_key_and_stored_reads_them_back(offline, monkeypatch):
    monkeypatch.setenv("NCLIB_RESULTS", str(offline))
    runs = experiments.run("fig2", "smoke", progress=False)
    assert list(runs) == list(experiments.grid("fig2", "smoke"))
    (result,) = runs.values()
    assert (offline / "smoke" / f"{result['name']}.json").is_file()
    assert experiments.stored("fig2", "smoke") == runs
    assert experiments.stored("fig2", "paper") == {}  # nothing stored: an empty dict, not an error


def _store_fake(folder, config, device="cuda (test GPU)", seconds=7200.0):
    fake = {"config": json.loads(json.dumps(config.__dict__)), "wall_time_s": seconds, "dataset": "CIFAR-10",
            "provenance": {"device": device, "git commit": "abc"}, "history": [{}] * config.epochs}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{run_name(config)}.json").write_text(json.dumps(fake))


def test_evidence_lists_stored_profiles_best_first_without_the_live_one(offline, monkeypatch):
    monkeypatch.setenv("NCLIB_RESULTS", str(offline))
    assert experiments.evidence("fig2", exclude="small") == []
    (paper,) = experiments.grid("fig2", "paper").values()
    _store_fake(offline / "paper", paper)
    assert experiments.grid("fig2", "medium") == {}  # Fig. 2 runs at the paper profile, on a CPU too
    medium = experiments.grid("fig6", "medium")
    _store_fake(offline / "medium", medium["mnist", "ce", "baseline", 0], device="cpu", seconds=1800.0)
    (found,) = experiments.evidence("fig2", exclude="small")
    assert found[0] == "paper" and len(found[1]) == 1
    assert "all runs stored" in found[2] and "data CIFAR-10, computed on cuda (test GPU) at commit abc, 2.00 hours" in found[2]
    assert "pending" not in found[2]  # Fig. 2 has no medium runs to wait for
    assert experiments.evidence("fig2", exclude="paper") == []  # the live run's profile is left out
    (found,) = experiments.evidence("fig6", exclude="small")
    assert found[0] == "medium" and f"1 of {len(medium)} runs stored" in found[2] and "cpu at commit" in found[2]
    assert "The `paper` profile's runs are pending (none stored)." in found[2]
    for config in medium.values():
        _store_fake(offline / "medium", config, device="cpu")
    (found,) = experiments.evidence("fig6", exclude="small")
    assert "all runs stored" in found[2] and "The `paper` profile's runs are pending (none stored)." in found[2]


def test_evidence_line_counts_stored_runs_per_profile(offline, monkeypatch):
    monkeypatch.setenv("NCLIB_RESULTS", str(offline))
    monkeypatch.setenv("NCLIB_PROFILE", "small")
    medium = experiments.grid("fig6", "medium")
    assert experiments.evidence_line("fig6") == "`paper` profile: none; `medium` profile: none"
    _store_fake(offline / "medium", medium["mnist", "ce", "baseline", 0], device="cpu")
    assert experiments.evidence_line("fig6") == f"`paper` profile: none; `medium` profile: 1 of {len(medium)} runs"
    monkeypatch.setenv("NCLIB_PROFILE", "medium")  # the live profile is not named as stored evidence
    assert experiments.evidence_line("fig6") == "`paper` profile: none"
    assert experiments.evidence_line("fig2") == "`paper` profile: none"  # Fig. 2 has no medium grid


def test_reproduce_reruns_a_stored_run_bit_for_bit_here(offline, capsys):
    config = RunConfig(dataset="cifar10", n_per_class=2, test_per_class=2, width=8, batch_size=8, epochs=2,
                       channels_last=True)
    from nclib.train import result_file, train

    train(config, offline)
    report = experiments.reproduce(result_file(offline, config))
    assert report["identical"] and set(report["max_drift"]) >= {"nc1", "nc2"}
    assert max(report["max_drift"].values()) == 0.0 and max(report["level_drift"].values()) == 0.0
    cli.main(["reproduce", str(result_file(offline, config))])
    assert capsys.readouterr().out.rstrip().endswith("bit for bit")
    stored = json.loads(result_file(offline, config).read_text())
    stored["history"][-1]["nc"]["penultimate"]["nc1"] *= 10  # as if another machine had rounded differently
    result_file(offline, config).write_text(json.dumps(stored))
    report = experiments.reproduce(result_file(offline, config))
    assert not report["identical"] and report["max_drift"]["nc1"] == pytest.approx(1.0)

def test_reproduce_can_rerun_with_the_other_memory_layout(offline, monkeypatch):
    config = RunConfig(dataset="cifar10", n_per_class=2, test_per_class=2, width=8, batch_size=8, epochs=2,
                       channels_last=True)
    from nclib.train import result_file, train

    train(config, offline)
    seen = []
    monkeypatch.setattr(experiments, "train", lambda c, *a, **k: seen.append(c.channels_last) or train(c, *a, **k))
    report = experiments.reproduce(result_file(offline, config), channels_last=False)  # other kernels
    assert seen == [False] and set(report["level_drift"]) >= {"nc1", "nc2"}
