"""nclib.models: ResNet18 (App. E.2) and the layer-wise MLP (App. E.1)."""

import pytest
import torch

from nclib.models import LayerwiseMLP, resnet18


def test_resnet18_has_the_cifar_resnet18_parameter_count():
    # 11,173,962: the CIFAR ResNet18 (3x3 stem, 10 classes) widely quoted in NC/CIFAR code.
    model = resnet18(10, 3, fc_bias=True)
    assert sum(p.numel() for p in model.parameters()) == 11_173_962
    assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1)
    assert isinstance(model.maxpool, torch.nn.Identity)


@pytest.mark.parametrize("in_channels,size,width", [(3, 32, 8), (1, 28, 4)])
def test_features_are_pooled_stage_outputs_of_the_same_pass(in_channels, size, width):
    torch.manual_seed(0)
    model = resnet18(10, in_channels, fc_bias=False, width=width).double().eval()
    assert model.fc.bias is None and model.fc.weight.shape == (10, 8 * width)
    x = torch.randn(5, in_channels, size, size, dtype=torch.float64)
    seen = {}
    hooks = [getattr(model, name).register_forward_hook(lambda m, i, o, name=name: seen.__setitem__(name, o))
             for name in ("layer3", "layer4")]
    logits = model(x)
    for h in hooks:
        h.remove()
    feats = model.features(x)
    assert feats["penultimate"].shape == (5, 8 * width) and feats["block3"].shape == (5, 4 * width)
    # Independent reference: the stage outputs captured by hooks, averaged over space (float64).
    torch.testing.assert_close(feats["block3"], seen["layer3"].mean(dim=(2, 3)), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(feats["penultimate"], seen["layer4"].mean(dim=(2, 3)), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(logits, feats["penultimate"] @ model.fc.weight.T, rtol=1e-12, atol=1e-12)
    assert seen["layer4"].shape[-1] == -(-size // 8)  # three stride-2 stages after a stride-1 stem


def test_resnet18_rejects_bad_arguments():
    with pytest.raises(ValueError, match="width must be an integer >= 1"):
        resnet18(width=0)
    with pytest.raises(ValueError, match="num_classes"):
        resnet18(num_classes=1)


def test_mlp_grow_freezes_old_layers_and_keeps_the_classifier():
    torch.manual_seed(0)
    mlp = LayerwiseMLP(12, 3, width=6)
    assert mlp.depth == 1 and mlp.hidden[0][0].in_features == 12
    x = torch.randn(16, 3, 2, 2)
    mlp.train()
    mlp(x)  # updates layer 0's BatchNorm statistics while it is trainable
    fc_before = mlp.fc.weight.detach().clone()
    stats_before = mlp.hidden[0][1].running_mean.clone()
    mlp.grow()
    assert mlp.depth == 2 and mlp.hidden[1][0].in_features == 6
    assert all(not p.requires_grad for p in mlp.hidden[0].parameters())
    assert all(p.requires_grad for p in mlp.hidden[1].parameters()) and mlp.fc.weight.requires_grad
    torch.testing.assert_close(mlp.fc.weight, fc_before, rtol=0, atol=0)
    mlp.train()
    out = mlp(x)
    assert not mlp.hidden[0].training and mlp.hidden[1].training
    torch.testing.assert_close(mlp.hidden[0][1].running_mean, stats_before, rtol=0, atol=0)
    out.sum().backward()
    assert mlp.hidden[0][0].weight.grad is None and mlp.hidden[1][0].weight.grad is not None
    assert mlp.features(x)["penultimate"].shape == (16, 6)
    assert LayerwiseMLP(12, 3, width=6, depth=3).depth == 3
    with pytest.raises(ValueError, match="width must be an integer >= 1"):
        LayerwiseMLP(12, 3, width=0)
