"""Composites: phases, interfaces and the volume-averaged GENERIC models they produce."""

from ._averaging import (
    layered_flux as layered_flux,
    mode_rates as mode_rates,
    phase_temperatures as phase_temperatures,
    resolved_laminate as resolved_laminate,
)
from ._composite import Composite as Composite
from ._fields import two_temperature_model as two_temperature_model
from ._phases import Interface as Interface, Phase as Phase, laminate as laminate
