"""Scale profiles: the one switch, ``NCLIB_PROFILE``, that sets how big every computation runs.

* ``smoke`` -- every code path on tiny sizes (CI; the whole book in minutes on 2 CPU cores);
* ``small`` -- the default: theory at full fidelity, experiments reduced so that a chapter re-runs in minutes;
* ``medium`` -- the most faithful reduction of Sec. 5 that a 2-core CPU computes in hours; its
  results are computed once and stored under ``results/medium/`` (the theory sizes are ``small``'s);
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

PROFILES = ("smoke", "small", "medium", "paper")
DEFAULT_PROFILE = "small"
ENV_VAR = "NCLIB_PROFILE"

# (lam_W, lam_H, beta, K, d, n) cases of Chapter 4's Theorem 4.2 grid; larger profiles take more.
_CH4_GRID = ((0.1, 0.05, 50.0, 3, 5, 2), (2 ** 0.5, 0.3, 100.0, 4, 10, 3), (1e-2, 2.0, 30.0, 2, 3, 4),
             (5e-3, 5e-3, 10.0, 5, 8, 4), (0.5, 1.5, 200.0, 3, 4, 5), (2.0, 0.2, 20.0, 6, 7, 2),
             (1e-3, 0.1, 1000.0, 4, 12, 3), (0.3, 0.3, 5.0, 2, 6, 6))

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
    # Chapter 3: the central path (Sec. 3, App. A-B). rtol/atol: solve_ivp tolerances; gtol:
    # solve_eq2's gradient tolerance; autograd: (K, n, d, offset) for Eq. 7; grid: (lam_W, lam_H,
    # K, n, d) of Theorem 3.1 with `starts` random H0 each, flows on [0, T] at n_t times;
    # lam_W_sweep: lam_W -> 0; nc1_search: random starts for the pinv-NC1 search; cor_case /
    # betas: Corollary 3.2; b1_random / b1_restarts: Lemma B.1; depth: (K, n, d, lam_W, lam_H,
    # beta, layers); eq2_size: (K, n, d) of the timed solve_eq2; multistart: random starts of
    # eq2_multistart in the Corollary 3.2 scan; step_draws: random starts searched for the
    # steepest NC1 rise (depthwise NC1); joint: (K, n, d, lam_W, lam_H, lr, steps, starts) of the
    # joint (W, H) descent of Eq. 1; cor_search: (restarts, L-BFGS iterations) per beta of
    # cor_search_betas in the adversarial search on C(H0) of Corollary 3.2.
    "ch3": {
        "smoke": dict(seed=0, rtol=1e-10, atol=1e-12, gtol=1e-11,
                      autograd=((3, 4, 5, 0.0), (3, 2, 10, 1.0), (2, 3, 4, 3.0)),
                      grid=((0.1, 0.0, 3, 4, 5), (5e-3, 5e-3, 3, 4, 6), (1.0, 0.5, 2, 6, 10)),
                      starts=2, T=100.0, n_t=120, lam_W_sweep=(1.0, 0.1, 1e-2, 1e-3),
                      nc1_search=60, cor_case=(0.05, 0.02, 3, 4, 5), betas=(1e-1, 1e1, 1e3, 1e5),
                      b1_random=50, b1_restarts=2, depth=(3, 8, 6, 0.05, 0.01, 2.0, 8),
                      eq2_size=(10, 50, 64), multistart=2, step_draws=100,
                      joint=(3, 5, 4, 5e-3, 5e-3, 0.05, 300, 10), cor_search=(2, 10),
                      cor_search_betas=(0.1, 1.0)),
        "small": dict(seed=0, rtol=1e-10, atol=1e-12, gtol=1e-11,
                      autograd=((3, 4, 5, 0.0), (3, 2, 10, 1.0), (2, 3, 4, 3.0), (4, 5, 8, -2.0),
                                (5, 2, 20, 0.5), (10, 10, 16, 1.0)),
                      grid=((0.1, 0.0, 3, 4, 5), (5e-3, 5e-3, 3, 4, 6), (1.0, 0.5, 2, 6, 10),
                            (1e-2, 0.0, 4, 5, 3), (0.05, 0.2, 5, 3, 4), (2.0, 1.0, 3, 5, 8),
                            (1e-3, 1e-3, 3, 3, 4), (0.5, 0.0, 10, 4, 12)),
                      starts=5, T=100.0, n_t=200, lam_W_sweep=(1.0, 0.3, 0.1, 3e-2, 1e-2, 3e-3, 1e-3),
                      nc1_search=300, cor_case=(0.05, 0.02, 3, 4, 5),
                      betas=tuple(10.0 ** k for k in range(-2, 7)), b1_random=500, b1_restarts=10,
                      depth=(3, 20, 8, 0.05, 0.01, 2.0, 20), eq2_size=(10, 500, 512), multistart=5,
                      step_draws=300, joint=(3, 5, 4, 5e-3, 5e-3, 0.05, 1000, 50), cor_search=(4, 40),
                      cor_search_betas=(1e-2, 0.1, 1.0, 10.0)),
        "paper": dict(seed=0, rtol=1e-10, atol=1e-12, gtol=1e-11,
                      autograd=((3, 4, 5, 0.0), (3, 2, 10, 1.0), (2, 3, 4, 3.0), (4, 5, 8, -2.0),
                                (5, 2, 20, 0.5), (10, 10, 16, 1.0), (10, 50, 64, 2.0)),
                      grid=((0.1, 0.0, 3, 4, 5), (5e-3, 5e-3, 3, 4, 6), (1.0, 0.5, 2, 6, 10),
                            (1e-2, 0.0, 4, 5, 3), (0.05, 0.2, 5, 3, 4), (2.0, 1.0, 3, 5, 8),
                            (1e-3, 1e-3, 3, 3, 4), (0.5, 0.0, 10, 4, 12), (5e-3, 5e-3, 10, 20, 32)),
                      starts=20, T=100.0, n_t=400,
                      lam_W_sweep=(1.0, 0.3, 0.1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4),
                      nc1_search=2000, cor_case=(0.05, 0.02, 3, 4, 5),
                      betas=tuple(10.0 ** (k / 2) for k in range(-4, 15)), b1_random=2000, b1_restarts=40,
                      depth=(10, 50, 32, 5e-3, 5e-3, 2.0, 40), eq2_size=(10, 500, 512), multistart=10,
                      step_draws=1000, joint=(3, 5, 4, 5e-3, 5e-3, 0.05, 2000, 200), cor_search=(8, 60),
                      cor_search_betas=(1e-3, 1e-2, 0.1, 1.0, 10.0)),
    },
    # nclib.experiments: sizes of the training sweeps (Sec. 5, App. E). epochs: ResNet18 epochs of
    # Fig. 3-6 (paper: 200, the length of the baseline schedule of Zhu et al. (2021) that Sec. 5
    # adopts; the text fixes only the lr drop every 40 epochs); table1_epoch: Table 1's read-out
    # epoch (paper: 100); lr_step: epochs between lr / 10; wd_scale: factor on every weight decay
    # of the paper. The paper's runs make ~430 lr-weighted SGD steps by epoch 100 (196 steps per
    # epoch x (40 x 0.05 + 40 x 0.005 + 20 x 0.0005)), the small runs 13 x (15 x 0.05 + 15 x 0.005)
    # = 10.7, so the same total shrinkage of the weights by weight decay would need a factor of 40;
    # small uses 10, with which every setting (WD x2 included) still reaches zero training error
    # in 30 epochs (with 20 and 50 some cross-entropy runs did not). *_per_class: training samples
    # per class (None: the whole set; MNIST 3K / 5K in App. E.2); fig6_per_class: MNIST samples
    # per class of Fig. 6 (paper: 3K, as Fig. 4; small: more than Fig. 4's 20, with which the
    # blurred digits did not train steadily); test_per_class: test subset; width: ResNet18 base
    # channels (64 = ResNet18); mlp_*: App. E.1 (hidden layers, their width, Adam epochs per layer,
    # samples per class); seeds: Fig. 2-6; table1_seeds: Table 1; checkpoint_every: epochs; bf16:
    # bfloat16 autocast in the ResNet18 training steps (paper: on a GPU, unless the device check of
    # benchmarks/device_check.py finds that it moves the NC metrics by more than seed noise; on a
    # CPU without bfloat16 units it is slower, see benchmarks/bench_cpu.py).
    # medium keeps the paper's regime at a 2-core CPU's cost: width 8 (d = 64; a training step at
    # width 16 costs 2.6x, benchmarks/bench_cpu.py) with n > d (CIFAR-10 320 per class, n / d = 5;
    # MNIST 192 and 320 per class, 3 and 5, keeping 3K:5K), batch 64 (6.4 samples per class per
    # BatchNorm batch), the paper's weight decays, and a schedule set in SGD steps (phase_steps:
    # data set -> steps at lr, lr/10, lr/100; nclib.experiments.schedule), ending at Table 1's
    # read-out after the second drop. CIFAR-10 runs 3600 steps at lr 0.05, 1.8 time constants of
    # the weights' relaxation under weight decay, tau = (1 - momentum) / (2 lr WD) = 2000 steps (the
    # paper: 7840, 3.9 tau); MNIST, which fits within 400 steps, 1800 (0.9 tau; the paper's 3K:
    # 2.4 tau). Longer, training diverges once the BatchNorm-scale-invariant weights have shrunk: in
    # the design study (results/medium/pilots/) WD x2 on the features diverged after 4550 steps on
    # CIFAR-10 and after 2310 and 2370 on MNIST (and one medium MNIST run after 1680). nc_every: the eval pass every 4th epoch before the
    # first drop (a medium CIFAR-10 run 1.2x as fast); compile: torch.compile'd training steps, off:
    # with channels-last they run at 0.97-1.04x eager, measured interleaved in benchmarks/bench_cpu.py,
    # and compiling costs 35-46 s a run;
    # save_weights: the baseline's seed-0 networks keep their final weights. Scaling the weight
    # decay up instead (x10, x20) stopped the networks fitting (47-54% training accuracy, CE).
    # fig2: whether the profile has Figure 2 runs; App. E.1 runs at the paper's exact size on a CPU,
    # so medium has none of its own (its MLP sizes are the paper's, unused).
    "experiments": {
        "smoke": dict(epochs=4, table1_epoch=4, lr_step=2, phase_steps=None, batch_size=32, width=8, wd_scale=10.0,
                      cifar_per_class=10, mnist3k_per_class=10, mnist5k_per_class=15, fig6_per_class=10,
                      test_per_class=10, mlp_layers=3, mlp_width=64, mlp_epochs=3, mlp_per_class=20,
                      seeds=(0,), table1_seeds=(0, 1), checkpoint_every=2, nc_every=1, compile=False, save_weights=False,
                      bf16=False, fig2=True),
        "small": dict(epochs=30, table1_epoch=30, lr_step=15, phase_steps=None, batch_size=16, width=16,
                      wd_scale=10.0, cifar_per_class=20, mnist3k_per_class=20, mnist5k_per_class=33,
                      fig6_per_class=100, test_per_class=10, mlp_layers=10, mlp_width=1024, mlp_epochs=3,
                      mlp_per_class=1000, seeds=(0,), table1_seeds=(0, 1, 2), checkpoint_every=10, nc_every=1,
                      compile=False, save_weights=False, bf16=False, fig2=True),
        "medium": dict(epochs=None, table1_epoch=None, lr_step=None, phase_steps={"cifar10": (3600, 1200, 400), "mnist": (1800, 1200, 400)}, batch_size=64,
                       width=8, wd_scale=1.0, cifar_per_class=320, mnist3k_per_class=192, mnist5k_per_class=320,
                       fig6_per_class=192, test_per_class=100, mlp_layers=10, mlp_width=3072, mlp_epochs=3,
                       mlp_per_class=None, seeds=(0, 1), table1_seeds=(0, 1, 2), checkpoint_every=4, nc_every=4,
                       compile=False, save_weights=True, bf16=False, fig2=False),
        "paper": dict(epochs=200, table1_epoch=100, lr_step=40, phase_steps=None, batch_size=256, width=64,
                      wd_scale=1.0, cifar_per_class=None, mnist3k_per_class=3000, mnist5k_per_class=5000,
                      fig6_per_class=3000, test_per_class=None, mlp_layers=10, mlp_width=3072, mlp_epochs=3,
                      mlp_per_class=None, seeds=(0,), table1_seeds=(0, 1, 2), checkpoint_every=5, nc_every=1,
                      compile=False, save_weights=False, bf16=True, fig2=True),
    },
    # Chapter 4: Theorem 4.1, Eq. 5, Theorem 4.2, App. C-D, Figure 1.
    # t41: (K, n, d, lam_W, lam_H, beta) for the epsilon sweeps; eps: (log10 max, log10 min,
    # points); base_noise: size of the non-collapsed H0; betas: log10 range/points of the Eq. 5
    # sweep; erratum_lams: (lam_W, lam_H) of the beta-condition erratum; grid: (lam_W, lam_H, beta,
    # K, d, n) for Theorem 4.2; fig1_lam_H: the lambda_H of Figure 1; d1_lams / d1_K / d1_betas /
    # d1_K / d1_betas: App. D.1; scale: (d, K, n) of the matrix-free operator (small and up: the
    # paper's CIFAR-10 scale, d = 512, K = 10, n = 5000); fig1_lam_H_below: a lambda_H sweep with
    # c < 2/3 throughout; hyp_starts: random starts per base point of Theorem 4.1's hypotheses;
    # insight: (K, n, d, beta, noise, starts) and insight_lams (both lambda grids) of the Sec. 4
    # insight end to end; resolvent_noises: sizes of the Gaussian noise on H* where the resolvent
    # section measures lambda_min(G) and ||F||; distance: (K, n, d, lam_W, lam_H, beta) and
    # distance_noises: (log10 min, log10 max, points) of the distance-from-collapse sweep.
    "ch4": {
        "smoke": dict(seed=0, t41=(3, 3, 5, 0.1, 0.05, 2.0), eps=(-1, -4, 5), base_noise=0.5,
                      betas=(1, 4, 4), erratum_lams=(1e-4, 1e-2),
                      grid=_CH4_GRID[:3],
                      fig1_lam_H=(0.01, 0.1, 0.3, 0.6), d1_lams=(0.1, 1.0), d1_K=(2, 4, 8), d1_betas=(10.0, 100.0),
                      scale=(64, 5, 50), fig1_lam_H_below=(0.01, 0.05, 0.1, 0.2), hyp_starts=2,
                      insight=(3, 3, 5, 10.0, 1e-3, 0), insight_lams=(1e-2, 1e-1, 1.0),
                      resolvent_noises=(0.1, 0.5), distance=(3, 3, 5, 0.1, 0.05, 2.0),
                      distance_noises=(-5, 0, 6)),
        "small": dict(seed=0, t41=(4, 5, 8, 0.1, 0.05, 2.0), eps=(-1, -4.5, 8), base_noise=0.5,
                      betas=(1, 4.5, 8), erratum_lams=(1e-4, 1e-2),
                      grid=_CH4_GRID,
                      fig1_lam_H=(0.01, 0.1, 0.3, 0.6), d1_lams=(0.1, 1.0), d1_K=(2, 4, 8, 16),
                      d1_betas=(10.0, 100.0, 1000.0), scale=(512, 10, 5000),
                      fig1_lam_H_below=(0.01, 0.05, 0.1, 0.2), hyp_starts=4,
                      insight=(4, 5, 8, 10.0, 1e-3, 2), insight_lams=(1e-3, 1e-2, 1e-1, 1.0),
                      resolvent_noises=(0.1, 0.5), distance=(4, 5, 8, 0.1, 0.05, 2.0),
                      distance_noises=(-5, 0, 16)),
        "paper": dict(seed=0, t41=(4, 10, 10, 0.1, 0.05, 2.0), eps=(-1, -5, 9), base_noise=0.5,
                      betas=(1, 5, 9), erratum_lams=(1e-4, 1e-2),
                      grid=_CH4_GRID + ((5e-3, 5e-3, 100.0, 10, 16, 5), (0.05, 0.2, 50.0, 8, 20, 3)),
                      fig1_lam_H=(0.01, 0.1, 0.3, 0.6), d1_lams=(0.1, 1.0), d1_K=(2, 4, 8, 16, 32),
                      d1_betas=(10.0, 100.0, 1000.0), scale=(512, 10, 5000),
                      fig1_lam_H_below=(0.01, 0.05, 0.1, 0.2), hyp_starts=8,
                      insight=(10, 10, 16, 10.0, 1e-3, 4), insight_lams=(1e-3, 1e-2, 1e-1, 1.0),
                      resolvent_noises=(0.1, 0.5), distance=(4, 5, 8, 0.1, 0.05, 2.0),
                      distance_noises=(-5, 0, 26)),
    },
    # Chapter 11: NC at every block of a width-8 ResNet18 on CIFAR-10 (nclib.measure). A stored
    # medium run's final weights are measured where they exist; otherwise a network is trained in
    # place with these sizes: n_per_class training images per class, epochs of SGD at lr with
    # batch_size (no learning-rate drop), then measured on the same images.
    "ch11": {
        "smoke": dict(dataset="cifar10", width=8, n_per_class=20, epochs=3, lr=0.05, batch_size=32),
        "small": dict(dataset="cifar10", width=8, n_per_class=50, epochs=15, lr=0.05, batch_size=32),
        "paper": dict(dataset="cifar10", width=8, n_per_class=320, epochs=60, lr=0.05, batch_size=64),
    },
}
for _table in _SETTINGS.values():  # the theory chapters run at full fidelity from `small` up
    _table.setdefault("medium", _table["small"])
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


COMMIT_ENV = "NCLIB_COMMIT"


def _git_commit() -> str:
    """Short commit of the checkout nclib is imported from (``+dirty`` if a tracked file outside
    ``results/`` is modified); ``$NCLIB_COMMIT`` where the code runs from a copy without its git
    history (e.g. a working tree sent to a GPU machine); else 'unknown'."""
    if os.environ.get(COMMIT_ENV):
        return os.environ[COMMIT_ENV]
    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "--short=10", "HEAD"], cwd=here,
                             capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ":(top)",
                                ":(top,exclude)results"], cwd=here,  # results are outputs, not code
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


def show_provenance(evidence: str | None = None, **extra) -> None:
    """Print :func:`provenance` as one block, for the rendered output of a chapter. A chapter that
    shows stored runs before its live ones passes them as ``evidence`` (e.g.
    :func:`nclib.experiments.evidence_line`): the block then names them first and labels the
    active profile as that of the live runs."""
    record = provenance(**extra)
    if evidence is not None:
        record = {"stored evidence (shown first)": evidence, "live runs at profile": record.pop("profile"), **record}
    width = max(map(len, record))
    print("\n".join(f"{key:<{width}} : {value}" for key, value in record.items()))
