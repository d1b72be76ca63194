"""Scale profiles: the one switch, ``NCLIB_PROFILE``, that sets how big every computation runs.

* ``smoke`` -- every code path on tiny sizes (CI; the whole book in minutes on 2 CPU cores);
* ``small`` -- the default: theory at full fidelity, experiments reduced;
* ``paper`` -- asked for explicitly: the paper's exact settings.

Every chapter reads its sizes from :func:`settings`, so the numbers a chapter uses at each
profile are all written down here, in one table.
"""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from pathlib import Path
from types import MappingProxyType, SimpleNamespace

PROFILES = ("smoke", "small", "paper")
DEFAULT_PROFILE = "small"
ENV_VAR = "NCLIB_PROFILE"

# chapter -> profile -> sizes.  Keep the keys of one chapter identical across profiles.
_SETTINGS = {
    # Chapter 1: plain gradient descent on the UFM of Eq. 1.
    "ch1": {
        "smoke": dict(K=3, n=5, d=4, lam_W=5e-3, lam_H=5e-3, lr=0.5, steps=600, log_every=10),
        "small": dict(K=3, n=20, d=6, lam_W=5e-3, lam_H=5e-3, lr=0.5, steps=6000, log_every=10),
        "paper": dict(K=3, n=200, d=16, lam_W=5e-3, lam_H=5e-3, lr=0.5, steps=20000, log_every=20),
    },
    # Chapter 2: Theorem 2.1, footnotes 2-3 and Corollary 2.2 on the UFM of Eq. 1 / Eq. 2.
    # grid: (lam_W, lam_H, K, n, d) for the random-start minimisations (c > 1 and d = K included);
    # starts: random starts per grid point; n_H: random H for footnote 3; n_R: random R for the
    # construction of Sec. 2; cor_case / betas / cor_starts: Corollary 2.2; scaling: (K, n) pairs
    # at the fixed lambdas scaling_lams (footnote 2); gtol: L-BFGS gradient tolerance.
    "ch2": {
        "smoke": dict(seed=0, gtol=1e-10, starts=1, n_H=2, n_R=3,
                      grid=((5e-3, 5e-3, 4, 5, 8), (0.1, 0.4, 3, 4, 3), (1e-3, 0.1, 3, 4, 5),
                            (2.0, 1.0, 3, 4, 5)),
                      cor_case=(0.05, 0.2, 3, 4, 5), betas=(0.1, 1.0, 10.0), cor_starts=1,
                      scaling_lams=(0.05, 0.2), scaling=((2, 1), (3, 4), (5, 2))),
        "small": dict(seed=0, gtol=1e-10, starts=5, n_H=5, n_R=10,
                      grid=((5e-3, 5e-3, 4, 20, 8), (1e-2, 0.1, 3, 10, 3), (0.1, 0.4, 5, 8, 5),
                            (0.05, 0.2, 10, 5, 16), (1e-3, 0.1, 4, 6, 10), (0.1, 1e-3, 4, 6, 6),
                            (0.5, 1.5, 3, 5, 4), (2.0, 1.0, 4, 5, 6), (1.5, 3.0, 3, 4, 3),
                            (4.0, 0.5, 5, 3, 8), (1e-2, 1e-2, 10, 50, 16)),
                      cor_case=(0.05, 0.2, 4, 10, 8), betas=(0.1, 1.0, 10.0), cor_starts=3,
                      scaling_lams=(0.05, 0.2), scaling=((2, 1), (3, 10), (5, 4), (10, 20))),
        "paper": dict(seed=0, gtol=1e-10, starts=5, n_H=10, n_R=50,
                      grid=((5e-3, 5e-3, 4, 20, 8), (1e-2, 0.1, 3, 10, 3), (0.1, 0.4, 5, 8, 5),
                            (0.05, 0.2, 10, 5, 16), (1e-3, 0.1, 4, 6, 10), (0.1, 1e-3, 4, 6, 6),
                            (0.5, 1.5, 3, 5, 4), (2.0, 1.0, 4, 5, 6), (1.5, 3.0, 3, 4, 3),
                            (4.0, 0.5, 5, 3, 8), (1e-2, 1e-2, 10, 50, 16),
                            (5e-3, 5e-3, 10, 100, 32)),
                      cor_case=(5e-3, 5e-3, 4, 20, 8), betas=(0.01, 0.1, 1.0, 10.0, 100.0),
                      cor_starts=5, scaling_lams=(0.05, 0.2),
                      scaling=((2, 1), (3, 10), (5, 20), (10, 50), (20, 10))),
    },
    # nclib.experiments: sizes of the training sweeps (Sec. 5, App. E). epochs: ResNet18 epochs of
    # Fig. 3-6 (paper: 200, the length of the baseline schedule of Zhu et al. (2021) that Sec. 5
    # adopts; the text fixes only the lr drop every 40 epochs and Table 1's read-out at epoch 100,
    # so table1_epochs = 100 there); lr_step: epochs between lr / 10; *_per_class: training samples
    # per class (None: the whole set; MNIST 3K / 5K in App. E.2); test_per_class: test subset;
    # width: ResNet18 base channels (64 = ResNet18); mlp_*: App. E.1 (10 hidden layers of 3072,
    # 3 Adam epochs each); seeds: Fig. 3-6 (Table 1 uses table1_seeds); checkpoint_every: epochs.
    "experiments": {
        "smoke": dict(epochs=3, table1_epochs=3, lr_step=40, batch_size=32, width=8, cifar_per_class=20,
                      mnist3k_per_class=20, mnist5k_per_class=30, test_per_class=20, mlp_layers=3,
                      mlp_width=64, mlp_epochs=3, mlp_per_class=20, seeds=(0,), table1_seeds=(0,),
                      checkpoint_every=1),
        "small": dict(epochs=50, table1_epochs=25, lr_step=10, batch_size=128, width=32, cifar_per_class=500,
                      mnist3k_per_class=300, mnist5k_per_class=500, test_per_class=200, mlp_layers=5,
                      mlp_width=1024, mlp_epochs=3, mlp_per_class=1000, seeds=(0,), table1_seeds=(0, 1, 2),
                      checkpoint_every=5),
        "paper": dict(epochs=200, table1_epochs=100, lr_step=40, batch_size=256, width=64, cifar_per_class=None,
                      mnist3k_per_class=3000, mnist5k_per_class=5000, test_per_class=None, mlp_layers=10,
                      mlp_width=3072, mlp_epochs=3, mlp_per_class=None, seeds=(0,), table1_seeds=(0, 1, 2),
                      checkpoint_every=5),
    },
}
SETTINGS = MappingProxyType({chapter: MappingProxyType({p: MappingProxyType(sizes) for p, sizes in table.items()})
                             for chapter, table in _SETTINGS.items()})
"""Read-only view of the table: ``SETTINGS[chapter][profile]`` -> sizes."""


def current() -> str:
    """The active profile: ``$NCLIB_PROFILE`` if set, else ``"small"``.

    Raises ``ValueError`` for a name that is not one of :data:`PROFILES`.
    """
    name = os.environ.get(ENV_VAR, DEFAULT_PROFILE).strip().lower() or DEFAULT_PROFILE
    if name not in PROFILES:
        raise ValueError(f"{ENV_VAR}={name!r} is not a profile; expected one of {PROFILES}")
    return name


def settings(chapter: str, profile: str | None = None) -> SimpleNamespace:
    """Sizes for ``chapter`` at ``profile`` (default: :func:`current`), as attributes."""
    if chapter not in _SETTINGS:
        raise ValueError(f"chapter={chapter!r} has no settings; known: {sorted(_SETTINGS)}")
    profile = current() if profile is None else profile
    if profile not in PROFILES:
        raise ValueError(f"profile={profile!r} is not a profile; expected one of {PROFILES}")
    return SimpleNamespace(profile=profile, **_SETTINGS[chapter][profile])


def _git_commit() -> str:
    """Short commit of the checkout nclib is imported from (``+dirty`` if modified), else 'unknown'."""
    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "--short=10", "HEAD"], cwd=here,
                             capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    return sha + ("+dirty" if dirty else "")


def device_name() -> str:
    """The device computations run on: the CUDA GPU's name if one is visible, else the CPU."""
    import torch

    if torch.cuda.is_available():
        return f"cuda ({torch.cuda.get_device_name(0)})"
    return f"cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"


def provenance(**extra) -> dict:
    """Where a number came from: profile, device, library versions, git commit, time (UTC).

    ``extra`` (e.g. ``dataset="MNIST"``) is added to the record.
    """
    import numpy
    import torch

    from nclib import __version__

    record = {
        "profile": current(),
        "device": device_name(),
        "nclib": __version__,
        "git commit": _git_commit(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
        "date (UTC)": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
    }
    record.update(extra)
    return record


def show_provenance(**extra) -> dict:
    """Print :func:`provenance` as one block for the rendered chapter and return it."""
    record = provenance(**extra)
    width = max(map(len, record))
    print("\n".join(f"{key:<{width}} : {value}" for key, value in record.items()))
    return record
