"""nclib.chunks and the plan / run --chunk / unpack commands: every pending run planned once,
chunks within their limit, packs within the limits on what comes back, byte-for-byte round trips."""

import io
import json
import os
import tarfile

import pytest
import torch

import offline_files
from nclib import chunks, cli, costs, data, experiments
from nclib.train import RunConfig, result_file, run_name, train


@pytest.fixture
def results(tmp_path, monkeypatch):
    monkeypatch.setenv("NCLIB_RESULTS", str(tmp_path / "results"))
    return tmp_path / "results"


def every_run(profile):
    return {run_name(c): c for e in experiments.EXPERIMENTS for c in experiments.grid(e, profile).values()}


def planned(plan):
    return [run_name(c) for chunk in plan.chunks for c in chunk.configs]


def test_every_pending_run_is_in_exactly_one_chunk_within_the_limit(results):
    alone = max(costs.estimate_minutes(c, "T4") for c in every_run("smoke").values())
    limit = chunks.STARTUP_MINUTES + 2.5 * alone  # a few runs per chunk, so there are several
    plan = chunks.make_plan("smoke", gpu="T4", minutes=limit)
    names = planned(plan)
    assert len(plan.chunks) > 1
    assert sorted(names) == sorted(every_run("smoke"))  # each run once, none left out
    assert not plan.truncated and not plan.unplanned
    for i, chunk in enumerate(plan.chunks):
        assert chunk.index == i and chunk.minutes <= limit
        assert chunk.minutes == pytest.approx(
            chunks.STARTUP_MINUTES + costs.estimate_minutes(chunk.configs, "T4", chunk.runs_sharing))
    text = chunks.format_plan(plan)
    assert f"in {len(plan.chunks)} chunks" in text and text.count("(estimate)") == len(plan.chunks)


def test_stored_runs_are_not_planned_again(results):
    runs = list(every_run("smoke").values())
    for config in runs[:5]:
        path = result_file(results / "smoke", config)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")
    assert sorted(planned(chunks.make_plan("smoke"))) == sorted(run_name(c) for c in runs[5:])


def test_paper_runs_too_long_for_a_command_are_planned_at_the_read_out_epoch(results):
    plan = chunks.make_plan("paper", minutes=9)
    full = every_run("paper")
    names = planned(plan)
    assert len(names) == len(set(names))
    assert all(c.minutes <= 9 for c in plan.chunks)
    short = {run_name(s): (f, s) for f, s, _ in plan.truncated}
    budget = chunks.CARRY_BYTES - chunks.DATA_BYTES
    for f, s, why in plan.truncated:
        assert s == RunConfig.from_dict({**f.__dict__, "epochs": 100}) and f.epochs == 200
        assert chunks.STARTUP_MINUTES + costs.estimate_minutes(f, "H200") > 9
        assert chunks.checkpoint_bytes(f) > budget and "exceeds" in why
    # every paper run is planned whole, planned at its read-out epoch, or listed as not planned
    accounted = [n for n in names if n not in short] + [run_name(f) for f, _ in short.values()] + \
        [run_name(c) for c, _ in plan.unplanned]
    assert sorted(accounted) == sorted(full)
    assert set(short) <= set(names)
    text = chunks.format_plan(plan)
    assert "Table 1's read-out" in text and "epochs 101-200" in text


def test_checkpoint_size_is_that_of_a_real_checkpoint(tmp_path, monkeypatch):
    offline_files.use_offline_cifar(tmp_path, monkeypatch, n_train=4, n_test=2)
    config = RunConfig(dataset="cifar10", width=8, epochs=3, checkpoint_every=1, batch_size=20)

    class Stop(Exception):
        pass

    def stop(unit, record):
        raise Stop

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with pytest.raises(Stop):
            train(config, tmp_path / "out", device="cpu", on_epoch_end=stop)
    finally:
        torch.set_num_threads(threads)
        data._raw.cache_clear()
    size = (tmp_path / "out" / f"{run_name(config)}.ckpt").stat().st_size
    n_params = sum(p.numel() for p in experiments_model(config).parameters())
    assert size >= 2 * 4 * n_params  # weights and SGD momentum, float32
    assert chunks.checkpoint_bytes(config) <= size <= chunks.checkpoint_bytes(config) + 200_000  # + pickled history


def experiments_model(config):
    from nclib.models import resnet18

    return resnet18(10, 3, config.loss == "ce", config.width)


def test_pack_then_unpack_round_trips_byte_for_byte(tmp_path, monkeypatch):
    src, packs, dest = tmp_path / "src", tmp_path / "packs", tmp_path / "dest"
    src.mkdir()
    rng = torch.Generator().manual_seed(0)
    files = []
    for i in range(5):
        path = src / f"run-{i}.json"
        path.write_bytes(torch.randint(0, 256, (3000 + 500 * i,), generator=rng, dtype=torch.uint8).numpy().tobytes())
        files.append(path)
    monkeypatch.setattr(chunks, "PACK_FILE_BYTES", 4000)  # random bytes do not compress: several parts
    parts = chunks.pack(files, packs, "chunk000")
    assert 1 < len(parts) <= chunks.PACK_FILES
    assert all(p.stat().st_size <= 4000 for p in parts)
    assert sorted(p.name for p in packs.iterdir()) == [f"chunk000.tar.gz.{i:03d}" for i in range(len(parts))]
    written = chunks.unpack(packs, dest)
    assert sorted(p.name for p in written) == sorted(f.name for f in files)
    for f in files:
        assert (dest / f.name).read_bytes() == f.read_bytes()
    assert chunks.unpack(packs, dest) == written  # again: identical files are left as they are
    (dest / "run-0.json").write_bytes(b"other")
    with pytest.raises(ValueError, match="other contents"):
        chunks.unpack(packs, dest)
    parts[-1].unlink()
    parts[0].rename(packs / "chunk000.tar.gz.009")
    with pytest.raises(ValueError, match="lacks a part"):
        chunks.unpack(packs, tmp_path / "dest2")


def test_pack_respects_the_limits_on_what_comes_back(tmp_path, monkeypatch):
    big = tmp_path / "big.json"
    big.write_bytes(os.urandom(30_000))
    monkeypatch.setattr(chunks, "PACK_FILE_BYTES", 4000)  # 30 kB of random bytes need 8 parts > 7
    with pytest.raises(ValueError, match="more than 7 parts"):
        chunks.pack([big], tmp_path / "out", "chunk000")
    assert chunks.PACK_FILES <= 8 and chunks.PACK_FILE_BYTES <= 16 * 2**20
    with pytest.raises(ValueError, match="files"):
        chunks.pack([tmp_path / "no such.json"], tmp_path / "out", "chunk000")


def test_unpack_refuses_paths_outside_the_folder(tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("../escape.json")
        info.size = 2
        archive.addfile(info, io.BytesIO(b"{}"))
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "chunk000.tar.gz.000").write_bytes(buffer.getvalue())
    with pytest.raises(ValueError, match="not a plain file name"):
        chunks.unpack(tmp_path / "p", tmp_path / "dest")
    assert not (tmp_path / "escape.json").exists()
    with pytest.raises(ValueError, match="no pack"):
        chunks.unpack(tmp_path / "dest", tmp_path / "x")


def test_plan_run_a_chunk_and_unpack_from_the_command_line(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "data"
    folder.mkdir()
    offline_files.write_mnist(folder, n_train=15, n_test=10)
    monkeypatch.setenv("NCLIB_DATA", str(folder))
    monkeypatch.setenv("NCLIB_PROFILE", "smoke")
    monkeypatch.setenv("NCLIB_RESULTS", str(tmp_path / "device"))
    data._raw.cache_clear()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    args = ["--profile", "smoke", "--experiments", "fig6"]
    try:
        cli.main(["plan", *args])
        out = capsys.readouterr().out
        assert "chunk   0:" in out and "(estimate)" in out
        cli.main(["run", "--chunk", "0", "--out", str(tmp_path / "out"), *args])
        with pytest.raises(SystemExit):  # there is no chunk 1
            cli.main(["run", "--chunk", "1", "--out", str(tmp_path / "out"), *args])
    finally:
        torch.set_num_threads(threads)
        data._raw.cache_clear()
    computed = sorted((tmp_path / "device" / "smoke").glob("*.json"))
    fig6 = experiments.grid("fig6", "smoke")
    assert sorted(p.name for p in computed) == sorted(result_file(".", c).name for c in fig6.values())
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["chunk000.tar.gz.000"]
    # back here: unpack into this checkout's results, byte for byte; nothing is pending any more
    monkeypatch.setenv("NCLIB_RESULTS", str(tmp_path / "here"))
    cli.main(["unpack", str(tmp_path / "out"), "--profile", "smoke"])
    for path in computed:
        assert (tmp_path / "here" / "smoke" / path.name).read_bytes() == path.read_bytes()
        assert json.loads(path.read_text())["history"][-1]["epoch"] == 4
    assert chunks.make_plan("smoke", experiments=["fig6"]).chunks == ()


def test_a_long_run_whose_checkpoint_travels_is_listed_for_splitting(results):
    # a limit no smoke run fits in alone: their checkpoints (a few MiB) fit beside the data
    tight = chunks.STARTUP_MINUTES + 0.5 * min(costs.estimate_minutes(c, "T4") for c in every_run("smoke").values())
    plan = chunks.make_plan("smoke", gpu="T4", minutes=tight, experiments=["fig3"])
    assert plan.chunks == () and plan.truncated == ()
    assert sorted(run_name(c) for c, _ in plan.unplanned) == sorted(run_name(c) for c in
                                                                    experiments.grid("fig3", "smoke").values())
    assert all("fits" in why and "split it at checkpoints" in why for _, why in plan.unplanned)
    with pytest.raises(ValueError, match="minutes"):
        chunks.make_plan("smoke", minutes=chunks.STARTUP_MINUTES)
