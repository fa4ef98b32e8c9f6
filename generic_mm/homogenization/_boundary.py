r"""Boundary conditions of the RVE cell problem: one final class per condition.

With $u = E\cdot x + \tilde u$ (temperature, or displacement with $E$ the macroscopic
strain), a boundary condition says which nodes of the fluctuation $\tilde u$ are free and
how they connect (`nodes`), how a unit load case enters the cell problem (a prescribed
macroscopic gradient $E$ or a prescribed macroscopic flux $\Sigma$), and how the apparent
tensor is read from the averages. A new condition is a new final class; listing its
instance in `BOUNDARY_CONDITIONS` also gives it a `bc="..."` name.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array

from .._custom_types import LoadCases
from .._errors import InputError
from ._voxels import AbstractNodes, BoxNodes, PeriodicNodes


class AbstractBoundaryCondition(eqx.Module):
    r"""A boundary condition of the RVE cell problem.

    - `name`: its name in reports and in `bc="..."` arguments.
    - `bound`: where its apparent tensor lies for a given microstructure: `"upper"`,
        `"lower"` or `"between"` (Huet's ordering, exact for the discrete problem).

    A new condition is a final subclass that sets both and implements the four methods
    below; the solver calls only these.

    **Example:**

    ```python
    r = hz.effective_conductivity(micro, [1.0, 10.0], bc=hz.Dirichlet())
    r.bc.name, r.bc.bound  # ("dirichlet", "upper"); bc="dirichlet" is the same
    ```
    """

    name: eqx.AbstractClassVar[str]
    bound: eqx.AbstractClassVar[str]

    @abc.abstractmethod
    def nodes(self, shape: tuple[int, ...]) -> AbstractNodes:
        """The nodes of the fluctuation on a grid of `shape` cells: which are free (the
        others are held at zero) and how they connect (wrapping, or an open box)."""

    @abc.abstractmethod
    def loads(self, strains: Array, stresses: Array) -> tuple[Array, Array]:
        """`(E, Sigma)` for the cell problem from unit macroscopic strains (gradients) and
        unit stresses (fluxes) stacked along the first axis: one of them is the load."""

    @abc.abstractmethod
    def apparent(self, gradients: LoadCases, fluxes: LoadCases) -> Array:
        """The apparent tensor from the mean gradients and mean fluxes of the load cases
        (one column per case)."""

    @abc.abstractmethod
    def stress_free_strain(
        self, strain: Array, stress: Array, stiffness: Callable[[], Array]
    ) -> Array:
        r"""The stress-free macroscopic strain $\langle\varepsilon\rangle -
        S^*\langle\sigma\rangle$ (Voigt) of a cell loaded by a prestress at zero
        macroscopic load, from its mean strain and stress; `stiffness()` solves for the
        apparent stiffness $C^* = S^{*-1}$ under this condition when it is needed."""

    def __str__(self) -> str:
        return self.name


class AbstractPrescribedGradient(AbstractBoundaryCondition):
    r"""A condition that prescribes the macroscopic gradient (strain) $E$, so that
    $\langle\nabla u\rangle = E$ and the apparent tensor is $\langle\sigma\rangle$ per unit
    $E$."""

    def loads(self, strains, stresses):
        return strains, jnp.zeros_like(stresses)

    def apparent(self, gradients, fluxes):
        return fluxes

    def stress_free_strain(self, strain, stress, stiffness):
        return strain - jnp.linalg.solve(stiffness(), stress)


class Periodic(AbstractPrescribedGradient):
    r"""Periodic fluctuations: $\tilde u$ periodic, fluxes (tractions) anti-periodic. Lies
    between the two others and converges fastest with the RVE size. `bc="periodic"`."""

    name: ClassVar[str] = "periodic"
    bound: ClassVar[str] = "between"

    def nodes(self, shape):
        return PeriodicNodes(shape)


class Dirichlet(AbstractPrescribedGradient):
    r"""Affine (kinematic uniform) data: $\tilde u = 0$ on the boundary, $u = E\cdot x$
    there. An upper bound of the apparent tensor. `bc="dirichlet"`."""

    name: ClassVar[str] = "dirichlet"
    bound: ClassVar[str] = "upper"

    def nodes(self, shape):
        return BoxNodes(shape, fixed_layers=1)


class Neumann(AbstractBoundaryCondition):
    r"""Uniform flux (static uniform, traction) data: $\sigma\cdot n = \Sigma\cdot n$ on
    the boundary, every node free; the apparent compliance is $\langle\nabla u\rangle$ per
    unit $\Sigma$. A lower bound of the apparent tensor. `bc="neumann"`."""

    name: ClassVar[str] = "neumann"
    bound: ClassVar[str] = "lower"

    def nodes(self, shape):
        return BoxNodes(shape, fixed_layers=0)

    def loads(self, strains, stresses):
        return jnp.zeros_like(strains), stresses

    def apparent(self, gradients, fluxes):
        return jnp.linalg.inv(gradients)

    def stress_free_strain(self, strain, stress, stiffness):
        # The prescribed macroscopic stress is zero, so the mean strain is stress free.
        return strain


BOUNDARY_CONDITIONS: tuple[AbstractBoundaryCondition, ...] = (Dirichlet(), Periodic(), Neumann())
"""Every condition, by the name users pass as `bc="..."`."""

_BY_NAME = {bc.name: bc for bc in BOUNDARY_CONDITIONS}


def as_boundary_condition(bc, where: str) -> AbstractBoundaryCondition:
    """`bc` as a boundary-condition object: an `AbstractBoundaryCondition` as is, or one of
    the names of `BOUNDARY_CONDITIONS`."""
    if isinstance(bc, AbstractBoundaryCondition):
        return bc
    if isinstance(bc, str) and bc in _BY_NAME:
        return _BY_NAME[bc]
    raise InputError(
        f"{where}: bc must be one of {tuple(_BY_NAME)} or an AbstractBoundaryCondition "
        f"(e.g. hz.Periodic()), got {bc!r}."
    )
