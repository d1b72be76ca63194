"""nclib: neural-collapse metrics, the unconstrained features model (UFM) and the perturbation
analysis of Tirer, Huang & Niles-Weed, "Perturbation Analysis of Neural Collapse" (ICML 2023).

Modules follow the paper: :mod:`nclib.ufm` (Sec. 2, Eq. 1-2), :mod:`nclib.metrics`
(NC1, NC1~ of Eq. 3, NC2, NC3 of Sec. 5 and App. E.2), :mod:`nclib.profiles` (experiment sizes).
"""

__version__ = "0.1.0"
