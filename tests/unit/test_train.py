"""nclib.train: weight-decay groups, configs, end-to-end runs, kill-and-resume, result files."""

import json

import numpy as np
import pytest
import torch

import offline_files
from nclib import data
from nclib.models import LayerwiseMLP, resnet18
from nclib.train import (WD_PRESETS, RunConfig, RunInProgress, param_groups, result_file, run_lock, run_name, train,
                         wd_preset)


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: threading costs more than it gains on shared cores
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def offline(tmp_path, monkeypatch):
    folder = tmp_path / "data"
    folder.mkdir()
    offline_files.write_mnist(folder, n_train=5, n_test=2)
    offline_files.write_cifar(folder, n_train=5, n_test=2)
    monkeypatch.setenv("NCLIB_DATA", str(folder))
    data._raw.cache_clear()
    yield tmp_path / "results"
    data._raw.cache_clear()


TINY = dict(dataset="mnist", width=4, batch_size=10, epochs=6, checkpoint_every=2, lr=0.05)


def test_presets_are_the_five_settings_of_section_5():
    assert WD_PRESETS == {"baseline": (5e-4, 5e-4), "wd2_W": (5e-4, 1e-3), "wd2_H": (1e-3, 5e-4),
                          "wd0_W": (5e-4, 0.0), "wd0_H": (0.0, 5e-4)}
    assert wd_preset("wd0_H") == (0.0, 5e-4)
    with pytest.raises(ValueError, match="preset='wd3_H' is unknown"):
        wd_preset("wd3_H")


@pytest.mark.parametrize("make", [lambda: resnet18(10, 3, True, 4), lambda: resnet18(10, 1, False, 4),
                                  lambda: LayerwiseMLP(12, 3, 5, depth=2)])
def test_param_groups_hold_every_parameter_once(make):
    model = make()
    groups = param_groups(model, 1e-3, 0.0)
    ids = [id(p) for g in groups for p in g["params"]]
    assert len(ids) == len(set(ids)) and set(ids) == {id(p) for p in model.parameters()}
    assert {id(p) for p in groups[1]["params"]} == {id(model.fc.weight)} | (
        {id(model.fc.bias)} if model.fc.bias is not None else set())
    assert [g["weight_decay"] for g in groups] == [1e-3, 0.0]
    with pytest.raises(ValueError, match="wd_classifier must be >= 0"):
        param_groups(model, 5e-4, -1.0)


def test_weight_decay_acts_only_on_its_group():
    # With zero loss gradient one SGD step multiplies each parameter by (1 - lr * wd) of its group.
    torch.manual_seed(0)
    model = resnet18(10, 1, True, 4)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = torch.optim.SGD(param_groups(model, 0.0, 0.1), lr=0.5)
    (0 * model(torch.randn(2, 1, 28, 28)).sum()).backward()
    opt.step()
    for n, p in model.named_parameters():
        factor = 1 - 0.5 * 0.1 if n.startswith("fc.") else 1.0
        torch.testing.assert_close(p.detach(), before[n] * factor, rtol=1e-6, atol=0)  # float32 product


def test_bad_configs_are_clear_errors(offline):
    with pytest.raises(ValueError, match="loss='hinge' is unknown"):
        RunConfig(loss="hinge")
    with pytest.raises(ValueError, match="dataset='imagenet' is unknown"):
        RunConfig(dataset="imagenet")
    with pytest.raises(ValueError, match="blur classes must lie in 0..9"):
        RunConfig(blur=(10,))
    with pytest.raises(ValueError, match="n_per_class=6 exceeds the size of classes"):
        train(RunConfig(**TINY, n_per_class=6), offline)
    with pytest.raises(TypeError, match="RunConfig"):
        train({"dataset": "mnist"}, offline)


def test_missing_dataset_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("NCLIB_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="has no mnist.npz"):
        train(RunConfig(**TINY), tmp_path / "out")


def _strip(history):
    return [{k: v for k, v in rec.items() if k != "seconds"} for rec in history]


@pytest.mark.parametrize("extra", [dict(loss="mse"), dict(loss="ce", blur=(4, 9))])
def test_resnet_run_reaches_zero_training_error_and_writes_its_result(offline, extra):
    config = RunConfig(**{**TINY, "epochs": 10}, **extra)
    result = train(config, offline)
    path = offline / f"{run_name(config)}.json"
    assert json.loads(path.read_text()) == json.loads(json.dumps(result))
    assert not list(offline.glob("*.ckpt")) and not list(offline.glob("*.tmp"))
    last = result["history"][-1]
    assert len(result["history"]) == 10 and last["train_error"] == 0.0
    assert result["dataset"] == "MNIST" and result["data"]["n_train"] == 50
    assert {"device", "torch", "git commit"} <= set(result["provenance"])
    assert [r["lr"] for r in result["history"]] == [0.05] * 10  # first drop after 40 epochs
    pen, blk = last["nc"]["penultimate"], last["nc"]["block3"]
    assert pen["nc3"] is not None and blk["nc3"] is None
    assert len(pen["nc1_per_class"]) == 10 and len(blk["nc1_per_class"]) == 10
    # Balanced classes: NC1 is the mean of the per-class NC1 (App. E.2).
    assert pen["nc1"] == pytest.approx(np.mean(pen["nc1_per_class"]), rel=1e-12)


def test_mlp_run_grows_one_layer_per_outer_iteration(offline):
    config = RunConfig(dataset="cifar10", model="mlp", width=32, epochs=3, lr=1e-2, batch_size=10,
                       mlp_epochs=3, checkpoint_every=1, wd_features=0.0, wd_classifier=0.0)
    result = train(config, offline)
    assert [r["depth"] for r in result["history"]] == [1, 2, 3]
    assert result["history"][-1]["train_error"] == 0.0
    assert set(result["history"][-1]["nc"]) == {"penultimate"}
    assert result["dataset"] == "CIFAR-10 (JPEG q75 re-encoding)"


class Killed(Exception):
    pass


def _kill_after(k):
    def hook(unit, record):
        if unit + 1 == k:
            raise Killed
    return hook


@pytest.mark.parametrize("config", [
    RunConfig(**{**TINY, "epochs": 5, "lr_step": 2}),
    RunConfig(dataset="mnist", model="mlp", width=16, epochs=3, lr=1e-2, batch_size=10, mlp_epochs=2,
              checkpoint_every=1, wd_features=0.0, wd_classifier=0.0),
], ids=["resnet18", "mlp"])
def test_killed_run_resumes_to_the_same_result(offline, config):
    reference = train(config, offline / "a")
    if config.model == "resnet18":  # lr / 10 every lr_step epochs, also across the resume
        np.testing.assert_allclose([r["lr"] for r in reference["history"]], [0.05, 0.05, 5e-3, 5e-3, 5e-4])
    with pytest.raises(Killed):  # killed after epoch 3; the last checkpoint is after epoch 2
        train(config, offline / "b", on_epoch_end=_kill_after(3 if config.model == "resnet18" else 2))
    assert (offline / "b" / f"{run_name(config)}.ckpt").exists()
    assert not (offline / "b" / f"{run_name(config)}.json").exists()
    resumed = train(config, offline / "b")
    assert _strip(resumed["history"]) == _strip(reference["history"])  # bit-identical metrics
    assert not (offline / "b" / f"{run_name(config)}.ckpt").exists()
    # A finished run is read back, not recomputed (the hook would raise if an epoch ran).
    again = train(config, offline / "b", on_epoch_end=_kill_after(1))
    assert again == json.loads(json.dumps(resumed))


def test_layout_fields_do_not_change_the_run_name():
    base = RunConfig(**TINY)
    assert run_name(base) == run_name(RunConfig(**{**TINY, "checkpoint_every": 3}))
    assert run_name(base) == run_name(RunConfig(**TINY, channels_last=True))
    assert run_name(base) != run_name(RunConfig(**TINY, bf16=True))  # bfloat16 changes the numbers
    assert run_name(base) != run_name(RunConfig(**TINY, seed=1))


def test_a_run_made_with_another_layout_is_found(offline):
    made = train(RunConfig(**{**TINY, "epochs": 2}), offline)
    again = train(RunConfig(**{**TINY, "epochs": 2, "checkpoint_every": 1}), offline)  # read back, not rerun
    assert again == made


def test_damaged_result_and_checkpoint_files_are_set_aside_and_recomputed(offline):
    config = RunConfig(**{**TINY, "epochs": 4})
    full = train(config, offline)
    path = result_file(offline, config)
    path.write_text(path.read_text()[: len(path.read_text()) // 2])  # truncated mid-write
    with pytest.warns(UserWarning, match="damaged .*set aside"):
        again = train(config, offline)
    assert _strip(again["history"]) == _strip(full["history"])
    assert (offline / (path.name + ".corrupt")).is_file()
    # A checkpoint cut short: the run starts over from epoch 1 and still gives the same result.
    path.unlink()
    ckpt = offline / f"{run_name(config)}.ckpt"
    ckpt.write_bytes(b"PK\x03\x04 not a whole checkpoint")
    with pytest.warns(UserWarning, match="damaged"):
        again = train(config, offline)
    assert _strip(again["history"]) == _strip(full["history"]) and not ckpt.exists()


def test_a_run_locked_by_another_process_is_not_computed_twice(offline):
    config = RunConfig(**{**TINY, "epochs": 2})
    with run_lock(offline / f"{run_name(config)}.lock") as mine:
        assert mine
        with pytest.raises(RunInProgress, match="being computed by another process"):
            train(config, offline)
    assert train(config, offline)["history"]  # the lock is released on exit


def test_channels_last_on_cpu_needs_a_width_that_is_a_multiple_of_8(offline):
    with pytest.raises(ValueError, match="channels_last=True on CPU needs width a multiple of 8"):
        train(RunConfig(**TINY, channels_last=True), offline)


def test_milestones_sparse_eval_weights_and_no_leftover_files(offline):
    config = RunConfig(**{**TINY, "epochs": 7}, lr_milestones=(4, 6), nc_every=3, save_weights=True)
    name = run_name(config)
    out = offline
    out.mkdir(parents=True)
    (out / f"{name}.ckpt.abc123.tmp").write_bytes(b"half a checkpoint")  # a writer killed mid-write
    result = train(config, out)
    assert [round(r["lr"], 6) for r in result["history"]] == [0.05] * 4 + [0.005] * 2 + [0.0005]
    # the eval pass after epoch 1, every 3rd epoch before the first drop, and every epoch after it
    assert [r["epoch"] for r in result["history"] if "nc" in r] == [1, 3, 5, 6, 7]
    assert all({"train_loss", "train_acc", "lr"} <= set(r) for r in result["history"])
    assert result["divergences"] == [] and result["config"]["lr_milestones"] == [4, 6]
    assert sorted(p.name for p in out.iterdir()) == [f"{name}.json", "weights"]  # no .lock, no .tmp
    weights = torch.load(out / "weights" / f"{name}.pt", weights_only=True)
    model = resnet18(10, 1, True, 4)
    model.load_state_dict(weights)  # the network as trained, loadable as is
    assert run_name(config) == run_name(RunConfig(**{**TINY, "epochs": 7}, lr_milestones=(4, 6), nc_every=3))


def test_fields_added_later_keep_the_names_of_runs_made_before_them():
    # a run made before lr_milestones, nc_every, compile and save_weights existed: its name's hash
    # is that of the fields it had
    import hashlib

    base = RunConfig(**TINY)
    old_fields = {k: v for k, v in json.loads(json.dumps(base.__dict__)).items()
                  if k not in ("lr_milestones", "nc_every", "compile", "save_weights", "checkpoint_every",
                               "channels_last")}
    digest = hashlib.sha1(json.dumps(old_fields, sort_keys=True).encode()).hexdigest()[:8]
    assert run_name(base).endswith(digest)
    assert run_name(base) == run_name(RunConfig(**TINY, compile=True))  # a layout field
    assert run_name(base) != run_name(RunConfig(**TINY, nc_every=2))
    with pytest.raises(ValueError, match="lr_milestones must be increasing"):
        RunConfig(**TINY, lr_milestones=(5, 3))
