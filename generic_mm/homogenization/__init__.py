"""RVE homogenization: microstructures, effective properties under periodic, affine
(Dirichlet) and uniform-flux (Neumann) boundary conditions, Hill-Mandel, bounds; and
second-order (Bloch-wave) homogenization of periodic cells: dispersion, the fourth-order
(strain-gradient) tensors, and the size effect they predict, checked against Rytov's exact
laminate branch."""

from ._boundary import (
    AbstractBoundaryCondition as AbstractBoundaryCondition,
    Dirichlet as Dirichlet,
    Neumann as Neumann,
    Periodic as Periodic,
)
from ._bounds import (
    dykhne as dykhne,
    hashin_shtrikman as hashin_shtrikman,
    hashin_shtrikman_elastic as hashin_shtrikman_elastic,
    laminate_bounds as laminate_bounds,
    levin as levin,
    maxwell_garnett as maxwell_garnett,
    reuss as reuss,
    voigt as voigt,
)
from ._effective import (
    effective_conductivity as effective_conductivity,
    effective_elasticity as effective_elasticity,
    effective_expansion as effective_expansion,
    isotropic_stiffness as isotropic_stiffness,
)
from ._laminates import laminate_dispersion as laminate_dispersion, rytov as rytov
from ._microstructures import (
    as_microstructure as as_microstructure,
    checkerboard as checkerboard,
    gaussian_field as gaussian_field,
    inclusion as inclusion,
    laminate as laminate,
    random_inclusions as random_inclusions,
    volume_fractions as volume_fractions,
)
from ._rve import (
    RVEStudy as RVEStudy,
    homogenized_phase as homogenized_phase,
    isotropic_value as isotropic_value,
    rve_size as rve_size,
)
from ._second_order import (
    SecondOrder as SecondOrder,
    second_order_conductivity as second_order_conductivity,
    second_order_elasticity as second_order_elasticity,
)
from ._size_effect import SizeEffect as SizeEffect, size_effect as size_effect
from ._solve import Homogenized as Homogenized
from ._voxels import Voxels as Voxels
