"""nclib.measure: NC at every layer through forward hooks, against the features computed by hand.

Tolerance: relative 1e-10 where both sides see bitwise the same float32 features (the same
modules and pooling on the same inputs) and accumulate them in float64 in different batchings.
"""

import numpy as np
import pytest
import torch
from torchvision.models import resnet18 as tv_resnet18

import nclib
from nclib.measure import PENULTIMATE, default_layers, measure
from nclib.metrics import nc_metrics
from nclib.models import LayerwiseMLP, resnet18

RTOL = 1e-10
KEYS = ("nc1", "nc1_tilde", "nc2", "tr_sw", "tr_sb")


def batches(shape, K=4, n=48, bs=16, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn((n,) + shape, generator=gen)
    y = torch.arange(n) % K
    return [(x[i:i + bs], y[i:i + bs]) for i in range(0, n, bs)], x, y


def assert_close(got, ref):
    for key in KEYS:
        np.testing.assert_allclose(getattr(got, key), getattr(ref, key), rtol=RTOL, err_msg=key)


def test_book_resnet18_matches_its_features():
    torch.manual_seed(0)
    model = resnet18(num_classes=4, in_channels=3, width=4)
    loader, x, y = batches((3, 16, 16))
    got = nclib.measure(model, loader, progress=False)
    assert list(got) == [f"layer{s}.{b}" for s in range(1, 5) for b in range(2)] + [PENULTIMATE]
    model.eval()
    with torch.no_grad():
        feats = model.features(x)
    ref_pen = nc_metrics(feats["penultimate"], y, model.fc.weight)
    assert_close(got[PENULTIMATE], ref_pen)
    np.testing.assert_allclose(got[PENULTIMATE].nc3, ref_pen.nc3, rtol=RTOL)
    assert_close(got["layer3.1"], nc_metrics(feats["block3"], y))
    assert_close(got["layer4.1"], ref_pen)  # the last block's pooled output is the penultimate
    assert got["layer4.1"].nc3 is None and all(m.nc1_per_class is None for m in got.values())
    model.train()
    nclib.measure(model, loader, layers=["layer1.0"], progress=False)
    assert model.training


def test_torchvision_resnet18_default_layers_and_per_class():
    torch.manual_seed(1)
    model = tv_resnet18(weights=None, num_classes=3)
    loader, x, y = batches((3, 32, 32), K=3, n=30, bs=8)
    assert default_layers(model) == [f"layer{s}.{b}" for s in range(1, 5) for b in range(2)] + [PENULTIMATE]
    got = measure(model, loader, layers=["layer2.1", PENULTIMATE], per_class=True, progress=False)
    model.eval()
    with torch.no_grad():
        h = model.layer2(model.layer1(model.maxpool(model.relu(model.bn1(model.conv1(x))))))
        pen = torch.flatten(model.avgpool(model.layer4(model.layer3(h))), 1)
    ref = nc_metrics(torch.flatten(torch.nn.functional.adaptive_avg_pool2d(h, 1), 1), y)
    assert_close(got["layer2.1"], ref)
    np.testing.assert_allclose(got["layer2.1"].nc1_per_class, ref.nc1_per_class, rtol=RTOL)
    assert_close(got[PENULTIMATE], nc_metrics(pen, y, model.fc.weight))
    assert got[PENULTIMATE].nc3 is not None


def test_mlp_hidden_layers_and_second_pass(monkeypatch):
    """Per-class NC1 beyond the scatter limit comes from a second pass over the loader."""
    torch.manual_seed(2)
    model = LayerwiseMLP(in_features=12, num_classes=4, width=10, depth=3)
    loader, x, y = batches((12,))
    assert default_layers(model) == ["hidden.0", "hidden.1", "hidden.2", PENULTIMATE]
    one_pass = measure(model, loader, per_class=True, progress=False)
    monkeypatch.setattr("nclib.metrics.SCATTER_LIMIT_BYTES", 0)  # force the bounded route
    two_pass = measure(model, loader, per_class=True, progress=False)
    model.eval()
    with torch.no_grad():
        h1 = model.hidden[1](model.hidden[0](x))
    ref = nc_metrics(h1, y)
    for got in (one_pass, two_pass):
        assert_close(got["hidden.1"], ref)
        np.testing.assert_allclose(got["hidden.1"].nc1_per_class, ref.nc1_per_class, rtol=RTOL)
        assert_close(got[PENULTIMATE], got["hidden.2"])


def test_errors_name_the_problem():
    model = LayerwiseMLP(in_features=6, num_classes=3, width=5, depth=1)
    loader, x, y = batches((6,), K=3, n=12, bs=6)
    with pytest.raises(ValueError, match=r"layers \['block9'\] are not modules of the model; available: "
                                         r"\['penultimate', 'hidden', 'hidden.0'"):
        measure(model, loader, layers=["block9"], progress=False)
    with pytest.raises(ValueError, match="loader must yield \\(inputs, labels\\) batches; batch 0 is a Tensor"):
        measure(model, [x[:6], x[6:]], progress=False)
    with pytest.raises(ValueError, match="integer class labels of shape \\(B,\\); the second element of batch 0"):
        measure(model, [(x, y.float())], progress=False)
    with pytest.raises(ValueError, match="loader yielded no batches"):
        measure(model, [], progress=False)
    with pytest.raises(ValueError, match="classifier='hidden.0' is not an nn.Linear"):
        measure(model, loader, classifier="hidden.0", progress=False)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        measure(lambda v: v, loader)
    no_head = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3))
    with pytest.raises(ValueError, match="no nn.Linear classifier"):
        measure(no_head, batches((3, 8, 8))[0], progress=False)
    got = measure(no_head, batches((3, 8, 8))[0], layers=["0"], num_classes=4, progress=False)
    assert set(got) == {"0"} and got["0"].nc3 is None


def test_module_is_callable_and_leaves_no_hooks():
    model = LayerwiseMLP(in_features=6, num_classes=3, width=5, depth=2)
    loader = batches((6,), K=3, n=12, bs=6)[0]
    assert callable(nclib.measure) and nclib.measure.measure is measure
    nclib.measure(model, loader, progress=False)
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
