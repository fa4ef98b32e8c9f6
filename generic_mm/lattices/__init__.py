"""Lattices from pair potentials: the Cauchy-Born rule, phonons and where the rule fails."""

from ._cauchy_born import CauchyBorn as CauchyBorn, CauchyBornValues as CauchyBornValues
from ._chain import Chain as Chain
from ._geometry import equibiaxial as equibiaxial, uniaxial as uniaxial
from ._lattice import Lattice as Lattice
from ._modes import Modes as Modes
from ._potentials import (
    PairPotential as PairPotential,
    harmonic as harmonic,
    lennard_jones as lennard_jones,
    morse as morse,
)
from ._stability import Instability as Instability
from ._triangular import TriangularLattice as TriangularLattice
