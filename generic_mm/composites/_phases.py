r"""Phases and interfaces of a composite, and closures for the interfacial exchange.

A phase is described per unit volume *of that phase* by an internal energy $u(s,
\varepsilon)$ of its entropy density $s$ and the (uniaxial) strain $\varepsilon$. By default
it is linear thermoelasticity with constant heat capacity,

$$u(s, \varepsilon) = \tfrac12 M\varepsilon^2 + M\alpha T_0\varepsilon +
C T_0\left(e^{(s - M\alpha\varepsilon)/C} - 1\right),$$

so $T = \partial u/\partial s = T_0 e^{(s - M\alpha\varepsilon)/C}$ and
$\sigma = \partial u/\partial\varepsilon = M\varepsilon - M\alpha (T - T_0)$ exactly:
$C = \rho c$ is the volumetric heat capacity at constant strain, $M$ the isothermal modulus
and $\alpha$ the thermal expansion coefficient.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import sympy as sp

from .._errors import InputError, ModelError
from .._expressions import as_scalar_expr, symbols_in
from .._validate import finite_number, positive_number


def thermoelastic_energy(s, eps, *, C, modulus, expansion, T0):
    r"""The built-in phase energy per unit phase volume, linear thermoelasticity with a
    constant heat capacity: $u = \tfrac12M\varepsilon^2 + M\alpha T_0\varepsilon +
    CT_0(e^{(s - M\alpha\varepsilon)/C} - 1)$. Numbers or SymPy symbols alike."""
    M, a = modulus, expansion
    return M * eps**2 / 2 + M * a * T0 * eps + C * T0 * (sp.exp((s - M * a * eps) / C) - 1)


def thermoelastic_entropy(T: float, eps: float, *, C, modulus, expansion, T0) -> float:
    r"""The entropy density at which `thermoelastic_energy` has the temperature `T` at
    strain `eps`: its inverse, $s = C\ln(T/T_0) + M\alpha\varepsilon$."""
    return C * math.log(T / T0) + modulus * expansion * eps


@dataclass(frozen=True)
class Linearised:
    """A phase's linear thermoelastic constants at its reference state (per phase volume).

    `T0`: temperature; `C`: heat capacity at constant strain; `modulus`: isothermal modulus;
    `beta`: thermal stress coefficient $-\\partial\\sigma/\\partial T$ (modulus x expansion).
    """

    T0: float
    C: float
    modulus: float
    beta: float

    @property
    def adiabatic_modulus(self) -> float:
        return self.modulus + self.T0 * self.beta**2 / self.C


class Phase:
    r"""One phase of a composite.

    **Arguments:**

    - `name`: an identifier (state variables are named `S_<name>`).
    - `fraction`: volume fraction $f$, in (0, 1]; the fractions of a composite sum to 1.
    - `conductivity`: thermal conductivity $k$ of the phase material.
    - `heat_capacity`: specific heat $c$ (per unit mass); with `density` $\rho$ the
        volumetric heat capacity is $C = \rho c$.
    - `modulus`: isothermal (uniaxial) elastic modulus $M$; `expansion`: $\alpha$. Both
        default to 0 (a purely thermal phase).
    - `T0`: reference temperature ($T = T_0$ at $s = 0$, $\varepsilon = 0$).
    - `energy`: instead of the constants, a function `u(s, eps) -> SymPy expression`, the
        internal energy per unit phase volume; its temperature $\partial u/\partial s$ must
        be positive near $s = \varepsilon = 0$.

    **Example:** `Phase("fiber", fraction=0.4, conductivity=10.0, heat_capacity=0.7,
    density=2.5, modulus=70.0, expansion=5e-6)`.
    """

    def __init__(
        self,
        name: str,
        *,
        fraction: float,
        conductivity: float,
        heat_capacity: float = 1.0,
        density: float = 1.0,
        modulus: float = 0.0,
        expansion: float = 0.0,
        T0: float = 1.0,
        energy: Callable[[sp.Expr, sp.Expr], sp.Expr] | None = None,
    ):
        if not isinstance(name, str) or not name.isidentifier():
            raise ModelError(f"Phase: name must be an identifier, got {name!r}.")
        where = f"phase {name!r}"
        self.name = name
        self.fraction = positive_number(fraction, f"{where} fraction", ModelError)
        if self.fraction > 1:
            raise ModelError(f"{where} fraction: expected a value in (0, 1], got {fraction!r}.")
        self.conductivity = positive_number(
            conductivity, f"{where} conductivity", ModelError, allow_zero=True
        )
        self.density = positive_number(density, f"{where} density", ModelError)
        self.heat_capacity = positive_number(heat_capacity, f"{where} heat_capacity", ModelError)
        self.modulus = positive_number(modulus, f"{where} modulus", ModelError, allow_zero=True)
        self.expansion = finite_number(expansion, f"{where} expansion", ModelError)
        self.T0 = positive_number(T0, f"{where} T0", ModelError)
        if energy is not None and not callable(energy):
            raise ModelError(
                f"{where} energy: expected a function u(s, eps) -> expression, "
                f"got {type(energy).__name__}."
            )
        self._energy_fn = energy
        self.linear = self._linearise()

    def energy(self, s: sp.Expr, eps: sp.Expr) -> sp.Expr:
        """The internal energy per unit phase volume at entropy density `s`, strain `eps`."""
        if self._energy_fn is not None:
            try:
                value = self._energy_fn(s, eps)
            except Exception as err:  # noqa: BLE001 - the user's function, reported as such
                raise ModelError(
                    f"phase {self.name!r} energy: calling u(s, eps) failed: {err}"
                ) from None
            expr = as_scalar_expr(value, f"phase {self.name!r} energy")
            extra = symbols_in(expr) - {s, eps} - _free(s) - _free(eps)
            if extra:
                raise ModelError(
                    f"phase {self.name!r} energy: unknown symbols "
                    f"{sorted(x.name for x in extra)}; u may use only s and eps."
                )
            return expr
        return thermoelastic_energy(s, eps, **self._constants(sp.Float))

    def symbolic_energy(self, s: sp.Expr, eps: sp.Expr, T0: sp.Symbol, params: dict) -> sp.Expr:
        """The energy per unit phase volume with the built-in constants as symbols
        (`C_<name>`, `M_<name>`, `alpha_<name>`, and `T0`), their values added to `params`:
        differentiable leaves of a compiled model. A phase given by its `energy` function
        has no such leaves and returns that function's expression."""
        if self._energy_fn is not None:
            return self.energy(s, eps)
        C = sp.Symbol(f"C_{self.name}", positive=True)
        M, alpha = sp.symbols(f"M_{self.name} alpha_{self.name}", real=True)
        params[C], params[M], params[alpha] = self.C, self.modulus, self.expansion
        return thermoelastic_energy(s, eps, C=C, modulus=M, expansion=alpha, T0=T0)

    def entropy(self, T: float, eps: float = 0.0) -> float:
        r"""The entropy density at which the temperature $\partial u/\partial s$ is `T`, at
        strain `eps` (solved numerically for a phase given by its energy function)."""
        if self._energy_fn is None:
            return thermoelastic_entropy(T, eps, **self._constants(float))
        s = sp.Symbol("s", real=True)
        Ts = sp.diff(self.energy(s, sp.Float(eps)), s)
        guess = self.linear.C * math.log(T / self.linear.T0)
        try:
            # One equation in one unknown: nsolve returns a Float.
            return float(cast(sp.Float, sp.nsolve(Ts - T, s, guess)))
        except (ValueError, ZeroDivisionError) as err:
            raise InputError(
                f"phase {self.name!r}: no entropy found where du/ds = {T:g} ({err})."
            ) from None

    def _constants(self, kind) -> dict:
        return {
            "C": kind(self.C),
            "modulus": kind(self.modulus),
            "expansion": kind(self.expansion),
            "T0": kind(self.T0),
        }

    @property
    def C(self) -> float:
        """Volumetric heat capacity $\\rho c$ (per unit phase volume)."""
        return self.density * self.heat_capacity

    def _linearise(self) -> Linearised:
        if self._energy_fn is None:
            return Linearised(self.T0, self.C, self.modulus, self.modulus * self.expansion)
        s, e = sp.symbols("s eps", real=True)
        u = self.energy(s, e)
        at = {s: 0, e: 0}
        try:
            T = float(sp.diff(u, s).subs(at))
            uss = float(sp.diff(u, s, 2).subs(at))
            use = float(sp.diff(u, s, e).subs(at))
            uee = float(sp.diff(u, e, 2).subs(at))
        except (TypeError, ValueError):
            raise ModelError(
                f"phase {self.name!r} energy: its derivatives at s = eps = 0 are not numbers."
            ) from None
        if not (T > 0 and uss > 0):
            raise ModelError(
                f"phase {self.name!r} energy: need T = du/ds > 0 and d2u/ds2 > 0 at s = eps = "
                f"0 (a positive temperature and heat capacity), got {T:g} and {uss:g}."
            )
        return Linearised(T, T / uss, uee - use**2 / uss, -use / uss)

    def __repr__(self) -> str:
        return f"Phase({self.name!r}, fraction={self.fraction})"


def _free(e) -> set:
    return set(getattr(e, "free_symbols", ()))


class Interface:
    r"""The interfaces between two phases, and the heat they pass: $H = h\,a_v$.

    **Arguments** (give `h_av`, or `h` with `area_density`, or a `closure`):

    - `a`, `b`: the two phases' names.
    - `h_av`: the exchange coefficient $H$ (per unit composite volume and kelvin).
    - `h`: interface conductance; `area_density`: interfacial area per unit volume $a_v$.
    - `closure`: a function of the two [`generic_mm.composites.Phase`][]s returning $H$,
        e.g. [`generic_mm.composites.laminate`][]`(l_a, l_b)`.

    The heat passing from `b` to `a` is $H(T_b - T_a)$ per unit composite volume.
    """

    def __init__(
        self,
        a: str,
        b: str,
        *,
        h_av: float | None = None,
        h: float | None = None,
        area_density: float | None = None,
        closure: Callable[[Phase, Phase], float] | None = None,
    ):
        self.a, self.b = a, b
        where = f"interface {a!r}-{b!r}"
        if a == b:
            raise ModelError(f"{where}: an interface joins two different phases.")
        given = [h_av is not None, h is not None or area_density is not None, closure is not None]
        if sum(given) != 1:
            raise ModelError(
                f"{where}: give exactly one of h_av, (h and area_density), or closure."
            )
        if given[1] and (h is None or area_density is None):
            raise ModelError(f"{where}: h and area_density go together; give both.")
        if closure is not None and not callable(closure):
            raise ModelError(f"{where} closure: expected a function (phase_a, phase_b) -> H.")
        self._h_av = None if h_av is None else positive_number(h_av, f"{where} h_av", ModelError)
        if given[1]:
            self._h_av = positive_number(h, f"{where} h", ModelError) * positive_number(
                area_density, f"{where} area_density", ModelError
            )
        self._closure = closure

    def exchange(self, phases: dict[str, Phase]) -> float:
        """$H = h a_v$ for these phases."""
        if self._closure is None:
            assert self._h_av is not None  # exactly one of h_av, (h, area_density), closure
            return self._h_av
        where = f"interface {self.a!r}-{self.b!r} closure"
        return positive_number(self._closure(phases[self.a], phases[self.b]), where, ModelError)

    def __repr__(self) -> str:
        return f"Interface({self.a!r}, {self.b!r})"


def laminate(l_a: float, l_b: float, *, h: float | None = None):
    r"""Closure for a laminate of layers of thickness `l_a` and `l_b` (quasi-steady).

    Without interface resistance, $H = 12/((l_a + l_b)(l_a/k_a + l_b/k_b))$: the exchange
    of two layers whose temperature profiles are parabolic. With an interface conductance
    `h`, its resistance adds in series over the area density $a_v = 2/(l_a + l_b)$:
    $1/H = 1/H_0 + 1/(h a_v)$.

    This is an approximation: the exact slowest out-of-phase mode of the layered cell decays
    at a different rate ($\pi^2$ against 12 for equal phases); see the composites docs.
    """
    l_a = positive_number(l_a, "laminate l_a", ModelError)
    l_b = positive_number(l_b, "laminate l_b", ModelError)
    if h is not None:
        h = positive_number(h, "laminate h", ModelError)

    def closure(a: Phase, b: Phase) -> float:
        if a.conductivity == 0 or b.conductivity == 0:
            raise ModelError(
                f"laminate closure for {a.name!r}-{b.name!r}: needs positive conductivities."
            )
        H = 12.0 / ((l_a + l_b) * (l_a / a.conductivity + l_b / b.conductivity))
        if h is not None:
            H = 1.0 / (1.0 / H + (l_a + l_b) / (2.0 * h))
        return H

    return closure
