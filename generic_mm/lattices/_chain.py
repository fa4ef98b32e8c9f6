"""`Chain`: a 1D lattice with pair potentials on any number of neighbour shells."""

from __future__ import annotations

import numpy as np
import sympy as sp

from ._lattice import Lattice


class Chain(Lattice):
    r"""A 1D chain of atoms of mass $m$ with pair potentials between $n$-th neighbours.

    **Arguments:**

    - `potentials`: one [`PairPotential`][generic_mm.lattices.PairPotential] (for shells
        1 ... `shells`), or a list with one per shell (`None` skips a shell).
    - `shells`: with one potential, how many neighbour shells it acts on (default 1).
    - `mass`: the atomic mass.
    - `spacing`: the reference spacing $a_0$ (default: the stress-free spacing, where
        $\sum_n n\,\phi_n'(n a_0) = 0$).

    The deformation is the stretch $\lambda = a/a_0$; the Cauchy-Born energy per reference
    length is $W(\lambda) = a_0^{-1}\sum_n\phi_n(n\lambda a_0)$ and the dispersion
    $\omega^2(k) = (4/m)\sum_n\phi_n''(n\lambda a_0)\sin^2(n k a_0/2)$, with $k$ referential
    (zone boundary $k = \pi/a_0$).

    **Example:**

    ```python
    import numpy as np
    from generic_mm.lattices import Chain, lennard_jones

    chain = Chain(lennard_jones())
    assert abs(chain.spacing - 2 ** (1 / 6)) < 1e-12
    inst = chain.instability()
    assert abs(inst.deformation - (13 / 7) ** (1 / 6)) < 1e-9 and inst.kind == "long-wave"
    ```
    """

    dim = 1
    kind = "chain"
    _basis_exact = sp.Matrix([[1]])

    def high_symmetry_points(self) -> dict[str, np.ndarray]:
        """The zone centre and boundary: `{"Γ": 0, "X": π/a0}`."""
        return {"Γ": np.zeros(1), "X": np.array([np.pi / self.spacing])}
