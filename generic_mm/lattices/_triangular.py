"""`TriangularLattice`: the 2D hexagonal close-packed lattice with pair potentials."""

from __future__ import annotations

import numpy as np
import sympy as sp

from ._lattice import Lattice


class TriangularLattice(Lattice):
    r"""The triangular (hexagonal) lattice in 2D, one atom of mass $m$ per site, with pair
    potentials between $n$-th neighbours (distances $1, \sqrt 3, 2, \sqrt 7, \dots$ times
    the spacing).

    **Arguments:** as for [`Chain`][generic_mm.lattices.Chain]: `potentials` (one, or one per
    shell), `shells`, `mass`, `spacing` (default: stress-free under equal stretch).

    Primitive vectors $a_1 = a_0(1, 0)$, $a_2 = a_0(1/2, \sqrt 3/2)$; the deformation is a
    2x2 deformation gradient $F$ ([`uniaxial`][generic_mm.lattices.uniaxial] and
    [`equibiaxial`][generic_mm.lattices.equibiaxial] build the usual ones). High-symmetry
    points of the reference Brillouin zone: $\Gamma$, $M = b_1/2$, $K = (2b_1 + b_2)/3$.
    """

    dim = 2
    kind = "triangular"
    _basis_exact = sp.Matrix([[1, 0], [sp.Rational(1, 2), sp.sqrt(3) / 2]])

    def high_symmetry_points(self) -> dict[str, np.ndarray]:
        """`{"Γ", "M", "K"}` of the reference Brillouin zone (Cartesian, referential)."""
        b1, b2 = self.reciprocal
        return {"Γ": np.zeros(2), "M": b1 / 2, "K": (2 * b1 + b2) / 3}
