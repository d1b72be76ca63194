"""nclib: neural-collapse metrics, the unconstrained features model (UFM) and the perturbation
analysis of Tirer, Huang & Niles-Weed, "Perturbation Analysis of Neural Collapse" (ICML 2023).

Modules follow the paper: :mod:`nclib.ufm` (Sec. 2, Eq. 1-2), :mod:`nclib.central_path` (Sec. 3),
:mod:`nclib.perturbation` and :mod:`nclib.near_collapse` (Sec. 4), :mod:`nclib.metrics` (NC1, NC1~
of Eq. 3, NC2, NC3 of Sec. 5 and App. E.2); the experiments of Sec. 5 and App. E:
:mod:`nclib.data`, :mod:`nclib.models`, :mod:`nclib.train`, :mod:`nclib.experiments`,
:mod:`nclib.analysis`; their cost on a GPU and the chunks of a GPU sweep: :mod:`nclib.costs`,
:mod:`nclib.chunks`; the book's verdicts and tables: :mod:`nclib.ledger`, :mod:`nclib.report`,
:mod:`nclib.plotting`; sizes: :mod:`nclib.profiles`. For a reader's own network,
``nclib.measure(model, loader)`` (:mod:`nclib.measure`) gives NC at every layer in one pass.
"""

__version__ = "0.1.0"


def __getattr__(name):  # nclib.measure is imported on first use, so that `import nclib` stays light
    if name == "measure":
        import importlib

        return importlib.import_module("nclib.measure")  # a module that is also callable: measure()
    raise AttributeError(f"module 'nclib' has no attribute {name!r}")
