r"""Phases and interfaces of a composite, and closures for the interfacial exchange.

A phase is described per unit volume *of that phase* by an internal energy $u(s,
\varepsilon)$ of its entropy density $s$ and the (uniaxial) strain $\varepsilon$. By default
it is linear thermoelasticity with constant heat capacity,
$$u(s, \varepsilon) = \tfrac12 M\varepsilon^2 + M\alpha T_0\varepsilon
+ C T_0\left(e^{(s - M\alpha\varepsilon)/C} - 1\right),$$
so $T = \partial u/\partial s = T_0 e^{(s - M\alpha\varepsilon)/C}$ and
$\sigma = \partial u/\partial\varepsilon = M\varepsilon - M\alpha (T - T_0)$ exactly:
$C = \rho c$ is the volumetric heat capacity at constant strain, $M$ the isothermal modulus
and $\alpha$ the thermal expansion coefficient.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import sympy as sp

from .._errors import ModelError
from .._model import _as_scalar_expr


def _positive(value, where: str, *, allow_zero: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ModelError(f"{where}: expected a number, got {value!r}.") from None
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        need = "nonnegative" if allow_zero else "positive"
        raise ModelError(f"{where}: expected a finite {need} number, got {value!r}.")
    return v


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
        energy: Callable[[sp.Symbol, sp.Symbol], sp.Expr] | None = None,
    ):
        if not isinstance(name, str) or not name.isidentifier():
            raise ModelError(f"Phase: name must be an identifier, got {name!r}.")
        where = f"phase {name!r}"
        self.name = name
        self.fraction = _positive(fraction, f"{where} fraction")
        if self.fraction > 1:
            raise ModelError(f"{where} fraction: expected a value in (0, 1], got {fraction!r}.")
        self.conductivity = _positive(conductivity, f"{where} conductivity", allow_zero=True)
        self.density = _positive(density, f"{where} density")
        self.heat_capacity = _positive(heat_capacity, f"{where} heat_capacity")
        self.modulus = _positive(modulus, f"{where} modulus", allow_zero=True)
        try:
            self.expansion = float(expansion)
        except (TypeError, ValueError):
            raise ModelError(f"{where} expansion: expected a number, got {expansion!r}.") from None
        self.T0 = _positive(T0, f"{where} T0")
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
            expr = _as_scalar_expr(value, f"phase {self.name!r} energy")
            extra = expr.free_symbols - {s, eps} - _free(s) - _free(eps)
            if extra:
                raise ModelError(
                    f"phase {self.name!r} energy: unknown symbols "
                    f"{sorted(x.name for x in extra)}; u may use only s and eps."
                )
            return expr
        M, a, C, T0 = (sp.Float(v) for v in (self.modulus, self.expansion, self.C, self.T0))
        return M * eps**2 / 2 + M * a * T0 * eps + C * T0 * (sp.exp((s - M * a * eps) / C) - 1)

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
        self._h_av = None if h_av is None else _positive(h_av, f"{where} h_av")
        if given[1]:
            self._h_av = _positive(h, f"{where} h") * _positive(
                area_density, f"{where} area_density"
            )
        self._closure = closure

    def exchange(self, phases: dict[str, Phase]) -> float:
        """$H = h a_v$ for these phases."""
        if self._closure is None:
            return self._h_av
        where = f"interface {self.a!r}-{self.b!r} closure"
        return _positive(self._closure(phases[self.a], phases[self.b]), where)

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
    l_a = _positive(l_a, "laminate l_a")
    l_b = _positive(l_b, "laminate l_b")
    if h is not None:
        h = _positive(h, "laminate h")

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
