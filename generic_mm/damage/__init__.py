"""Gradient damage as GENERIC: AT1/AT2 phase fields and Peerlings' implicit gradient, on
bars and plates pulled by heavy grips; regularisation and size effects measured."""

from ._bar import Bar as Bar
from ._forms import (
    AT1 as AT1,
    AT2 as AT2,
    AbstractDamageLaw as AbstractDamageLaw,
    Peerlings as Peerlings,
    PhaseField as PhaseField,
)
from ._plate import Plate as Plate
from ._specimen import AbstractSpecimen as AbstractSpecimen, Pull as Pull
