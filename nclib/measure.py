r"""Neural collapse at every layer of a network, in one pass over a data loader (Sec. 3, Sec. 5).

``nclib.measure(model, loader)`` registers forward hooks on the named modules of ``model``, runs
it in eval mode without gradients over ``loader``'s ``(inputs, labels)`` batches, and streams each
layer's features into an :class:`nclib.metrics.NCAccumulator` (float64). It returns, per layer, the
:class:`nclib.metrics.NCMetrics`: NC1 :math:`= \frac1K\operatorname{Tr}(\Sigma_W\Sigma_B^\dagger)`,
NC1~ (Eq. 3), NC2, and NC3 for ``"penultimate"``, the input of the classifier, whose weight is W.

Features: a layer's output of shape ``(B, C, *spatial)`` -- a convolutional map -- is averaged over
its spatial positions to (B, C), as the book's ResNet18 pools its stages
(``adaptive_avg_pool2d(x, 1)``, the network's own ``avgpool``); an output of shape (B, d) is taken
as it is; a tuple output contributes its first element.

Default layers: every residual block of a torchvision ResNet (``layer1.0`` ... ``layer4.1`` for
ResNet18; the book's :func:`nclib.models.resnet18` included), or every hidden layer of the book's
:class:`nclib.models.LayerwiseMLP` (``hidden.0`` ...), and ``"penultimate"``. For a ResNet the
last block's pooled output *is* the penultimate features, so the two share NC1, NC1~ and NC2.
"""

from __future__ import annotations

import sys
import types

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from nclib._checks import check_int
from nclib.metrics import NCAccumulator, NCMetrics

__all__ = ["measure", "default_layers", "pool", "PENULTIMATE"]

PENULTIMATE = "penultimate"
"""Layer name of the classifier's input (the deepest features; NC3 is measured there)."""


def pool(x: torch.Tensor) -> torch.Tensor:
    """(B, d) features of a layer output: ``(B, C, *spatial)`` averaged over the spatial positions
    (global average pooling, as in the book's ResNet18), (B, d) unchanged."""
    if x.ndim == 2:
        return x
    if x.ndim == 4:
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
    if x.ndim < 2:
        raise ValueError(f"a layer output must have shape (B, d) or ``(B, C, *spatial)``, got {tuple(x.shape)}")
    return x.flatten(2).mean(dim=2)


def default_layers(model: nn.Module) -> list[str]:
    """Every residual block of a torchvision ResNet, or every hidden layer of a
    :class:`nclib.models.LayerwiseMLP`, in order, then ``"penultimate"``."""
    from torchvision.models.resnet import BasicBlock, Bottleneck

    names = [name for name, m in model.named_modules() if isinstance(m, (BasicBlock, Bottleneck))]
    if not names and isinstance(getattr(model, "hidden", None), nn.ModuleList):
        names = [f"hidden.{i}" for i in range(len(model.hidden))]
    return names + [PENULTIMATE]


def _classifier(model: nn.Module, name: str | None) -> tuple[str, nn.Linear] | None:
    """The last layer: ``name`` if given, else ``model.fc`` if it is a Linear, else the last Linear."""
    modules = dict(model.named_modules())
    if name is not None:
        if not isinstance(modules.get(name), nn.Linear):
            raise ValueError(f"classifier={name!r} is not an nn.Linear module of the model; its Linear "
                             f"modules are {[n for n, m in modules.items() if isinstance(m, nn.Linear)]}")
        return name, modules[name]
    if isinstance(getattr(model, "fc", None), nn.Linear):
        return "fc", model.fc
    linears = [(n, m) for n, m in modules.items() if isinstance(m, nn.Linear)]
    return linears[-1] if linears else None


def _split(batch, index: int) -> tuple:
    """``(inputs, labels)`` of a loader batch, or a clear error."""
    if not isinstance(batch, (tuple, list)) or len(batch) < 2:
        raise ValueError(f"loader must yield (inputs, labels) batches; batch {index} is a "
                         f"{type(batch).__name__}" + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else ""))
    x, y = batch[0], batch[1]
    if (not isinstance(y, torch.Tensor) or y.dtype.is_floating_point or y.is_complex()
            or y.dtype == torch.bool or y.ndim != 1):
        what = f"tensor of dtype {y.dtype} and shape {tuple(y.shape)}" if isinstance(y, torch.Tensor) else type(y).__name__
        raise ValueError(f"loader must yield (inputs, labels) batches with integer class labels of shape (B,); "
                         f"the second element of batch {index} is a {what}")
    return x, y


@torch.no_grad()
def measure(model: nn.Module, loader, layers=None, *, num_classes: int | None = None,
            classifier: str | None = None, per_class: bool = False, progress: bool = True) -> dict[str, NCMetrics]:
    """NC1, NC1~ (Eq. 3), NC2 and, for ``"penultimate"``, NC3 of every layer in ``layers``.

    Args:
        model: a ``torch.nn.Module``; it runs in eval mode (its mode is restored afterwards), on
            the device of its parameters, to which each batch is moved.
        loader: an iterable of ``(inputs, labels, ...)`` batches (a ``torch.utils.data.DataLoader``,
            :class:`nclib.data.DeviceLoader`, a list); labels are integer tensors (B,) in 0..K-1.
        layers: module names (as in ``model.named_modules()``) and/or ``"penultimate"`` (the input
            of the classifier); default :func:`default_layers`.
        num_classes: K; default the classifier's ``out_features``.
        classifier: name of the last Linear layer (its weight is W of NC3); default ``model.fc``,
            else the model's last ``nn.Linear``.
        per_class: also per-class NC1 (App. E.2). One pass while K d^2 float64 scatters fit
            (:data:`nclib.metrics.SCATTER_LIMIT_BYTES`); beyond that a second pass over
            ``loader``, which must then yield the same samples again (no random augmentation).
        progress: show a progress bar.

    Returns:
        ``{layer: NCMetrics}`` in the order of ``layers``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    modules = dict(model.named_modules())
    layers = default_layers(model) if layers is None else ([layers] if isinstance(layers, str) else list(layers))
    if not layers:
        raise ValueError("layers is empty: name at least one module, or 'penultimate'")
    unknown = [name for name in layers if name != PENULTIMATE and (name == "" or name not in modules)]
    if unknown:
        raise ValueError(f"layers {unknown} are not modules of the model; available: "
                         f"{[PENULTIMATE] + [n for n in modules if n]}")
    head = _classifier(model, classifier)
    if head is None and (PENULTIMATE in layers or num_classes is None):
        raise ValueError("the model has no nn.Linear classifier: pass layers without 'penultimate' and num_classes")
    K = check_int("num_classes", num_classes if num_classes is not None else head[1].out_features, 2)
    params = next(model.parameters(), None)
    device = params.device if params is not None else torch.device("cpu")

    captured: dict[str, torch.Tensor] = {}

    def keep(name):
        def hook(module, args, output=None):
            out = args[0] if output is None else output  # a pre-hook sees the classifier's input
            captured[name] = pool(out[0] if isinstance(out, (tuple, list)) else out)
        return hook

    handles = [modules[name].register_forward_hook(keep(name)) for name in layers if name != PENULTIMATE]
    if PENULTIMATE in layers:
        handles.append(head[1].register_forward_pre_hook(keep(PENULTIMATE)))
    accs: dict[str, NCAccumulator] = {}

    def run(first: bool) -> None:
        total = len(loader) if hasattr(loader, "__len__") else None
        seen = 0
        desc = "NC per layer" if first else "NC per layer: per-class pass"
        for i, batch in enumerate(tqdm(loader, total=total, desc=desc, disable=not progress, leave=False)):
            x, y = _split(batch, i)
            captured.clear()
            model(x.to(device) if isinstance(x, torch.Tensor) else x)
            for name in layers:
                if name not in captured:
                    raise RuntimeError(f"layer {name!r} did not run in the forward pass")
                f = captured[name]
                if first:
                    if name not in accs:
                        accs[name] = NCAccumulator(K, f.shape[1], device=f.device, per_class=per_class)
                    accs[name].update(f, y)
                elif accs[name].needs_second_pass:
                    accs[name].update_per_class(f, y)
            seen += 1
        if not seen:
            raise ValueError("loader yielded no batches")

    was_training = model.training
    model.eval()
    try:
        run(first=True)
        if any(acc.needs_second_pass for acc in accs.values()):
            run(first=False)
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return {name: accs[name].compute(head[1].weight if name == PENULTIMATE else None) for name in layers}


class _CallableModule(types.ModuleType):
    """``nclib.measure(model, loader)`` calls :func:`measure`; ``nclib.measure`` stays this module."""

    def __call__(self, *args, **kwargs):
        return measure(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
