"""RVE homogenization: microstructures, effective properties under periodic, affine
(Dirichlet) and uniform-flux (Neumann) boundary conditions, Hill-Mandel, bounds."""

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
from ._solve import Homogenized as Homogenized
