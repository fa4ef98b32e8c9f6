r"""A composite of phases and interfaces, and the averaged GENERIC models it produces.

Volume averaging the energy balance of each phase over a representative volume leaves the
heat crossing the internal interfaces as an exchange between the phases' averaged
temperatures: per unit composite volume, phase $a$ receives $H_{ab}(T_b - T_a)$ from phase
$b$, $H_{ab} = h a_v$. In GENERIC form, with the phases' entropies $S_i$ (per unit
composite volume) as state, each interface contributes the friction block
$$M_{ab} = H_{ab}\begin{pmatrix} T_b/T_a & -1 \\ -1 & T_a/T_b\end{pmatrix}$$
on $(S_a, S_b)$ ($= H_{ab}T_aT_b\,[[1, -1], [-1, 1]]$ in energy variables), which is
symmetric, positive semi-definite and annihilates $\nabla E$ by construction; its entropy
production is $H_{ab}T_aT_b(1/T_a - 1/T_b)^2 \ge 0$.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import numpy as np
import sympy as sp

from .._errors import InputError, ModelError
from .._model import GenericModel
from ._averaging import conjugates
from ._phases import Interface, Phase


class Composite:
    r"""Phases with their volume fractions and the interfaces between them.

    **Arguments:**

    - `phases`: [`generic_mm.composites.Phase`][]s; fractions sum to 1; all phases share
        the reference temperature $T_0$.
    - `interfaces`: [`generic_mm.composites.Interface`][]s between pairs of phases.
    - `name`: used for the models it builds.

    Mechanics is iso-strain (all phases share the macroscopic strain: a laminate loaded
    along its layers, or fibres along the fibre direction).
    """

    def __init__(self, phases: Sequence[Phase], interfaces: Sequence[Interface] = (), *, name=None):
        phases = list(phases)
        if not phases or not all(isinstance(p, Phase) for p in phases):
            raise ModelError("Composite: phases must be a non-empty list of Phase objects.")
        self.phases: dict[str, Phase] = {}
        for p in phases:
            if p.name in self.phases:
                raise ModelError(f"Composite: phase {p.name!r} is given twice.")
            self.phases[p.name] = p
        total = sum(p.fraction for p in phases)
        if abs(total - 1.0) > 1e-9:
            listed = ", ".join(f"{p.name}={p.fraction:g}" for p in phases)
            raise ModelError(
                f"Composite: volume fractions must sum to 1, got {total:g} ({listed})."
            )
        T0s = {p.linear.T0 for p in phases}
        if max(T0s) - min(T0s) > 1e-12 * max(T0s):
            raise ModelError(
                "Composite: all phases must share one reference temperature T0 (the averaged "
                f"model is linearised about it); got {sorted(T0s)}."
            )
        self.T0 = phases[0].linear.T0
        self.name = name or "composite of " + ", ".join(self.phases)
        self.interfaces: list[Interface] = []
        self.exchange: dict[tuple[str, str], float] = {}
        for itf in interfaces:
            if not isinstance(itf, Interface):
                raise ModelError(f"Composite: interfaces must be Interface objects, got {itf!r}.")
            for side in (itf.a, itf.b):
                if side not in self.phases:
                    raise ModelError(
                        f"interface {itf.a!r}-{itf.b!r}: unknown phase {side!r}; the phases "
                        f"are {list(self.phases)}."
                    )
            key = (itf.a, itf.b)
            if key in self.exchange or key[::-1] in self.exchange:
                raise ModelError(f"interface {itf.a!r}-{itf.b!r} is given twice.")
            self.interfaces.append(itf)
            self.exchange[key] = itf.exchange(self.phases)

    # --- closed forms of the uniform, linearised composite -------------------------------
    @property
    def heat_capacities(self) -> dict[str, float]:
        """$C_i = f_i\\rho_i c_i$: each phase's heat capacity per unit composite volume."""
        return {n: p.fraction * p.linear.C for n, p in self.phases.items()}

    def _laplacian(self) -> np.ndarray:
        names = list(self.phases)
        G = np.zeros((len(names), len(names)))
        for (a, b), H in self.exchange.items():
            i, j = names.index(a), names.index(b)
            G[i, i] += H
            G[j, j] += H
            G[i, j] -= H
            G[j, i] -= H
        return G

    def relaxation_rates(self) -> np.ndarray:
        r"""The decay rates of the phase temperature differences in a uniform state
        (nonzero eigenvalues of $C^{-1}G$, $G$ the exchange Laplacian), ascending. Two phases:
        $H(1/C_a + 1/C_b)$."""
        C = np.array(list(self.heat_capacities.values()))
        G = self._laplacian()
        w = np.linalg.eigvalsh(G / np.sqrt(np.outer(C, C)))
        return np.sort(w[w > 1e-12 * max(1.0, float(np.max(np.abs(w))))])

    @property
    def relaxation_time(self) -> float:
        """$\\tau = 1/H(1/C_a + 1/C_b)$ for two phases; the slowest exchange time in general."""
        rates = self.relaxation_rates()
        if rates.size == 0:
            raise ModelError(f"{self.name}: no interfaces exchange heat, nothing relaxes.")
        return 1.0 / float(rates[0])

    def equilibrium_temperature(self, temperatures: Mapping[str, float]) -> float:
        """$T_{eq} = \\sum C_iT_i/\\sum C_i$ from phase temperatures (constant capacities)."""
        T, C = self._temperatures(temperatures), self.heat_capacities
        return sum(C[n] * T[n] for n in C) / sum(C.values())

    def entropy_change(self, temperatures: Mapping[str, float]) -> float:
        """$\\Delta S = \\sum C_i\\ln(T_{eq}/T_i)$ per unit volume, relaxing from `temperatures`."""
        T, C = self._temperatures(temperatures), self.heat_capacities
        Teq = self.equilibrium_temperature(T)
        return sum(C[n] * math.log(Teq / T[n]) for n in C)

    def moduli(self) -> dict[str, float]:
        r"""Composite moduli under iso-strain, per unit volume:

        - `"isothermal"`: $\sum f_iM_i$, every phase held at $T_0$ (an external bath);
        - `"relaxed"`: phases at one common temperature, the composite as a whole adiabatic
            (the long-time limit of interfacial exchange);
        - `"unrelaxed"`: every phase adiabatic on its own (no time to exchange heat).

        The interfacial exchange relaxes `"unrelaxed"` to `"relaxed"`.
        """
        lin = {n: p.linear for n, p in self.phases.items()}
        f = {n: p.fraction for n, p in self.phases.items()}
        C = self.heat_capacities
        beta = {n: f[n] * lin[n].beta for n in lin}
        iso = sum(f[n] * lin[n].modulus for n in lin)
        relaxed = iso + self.T0 * sum(beta.values()) ** 2 / sum(C.values())
        unrelaxed = iso + self.T0 * sum(beta[n] ** 2 / C[n] for n in lin)
        return {"isothermal": iso, "relaxed": relaxed, "unrelaxed": unrelaxed}

    def complex_modulus(self, omega) -> np.ndarray:
        r"""$M^*(\omega) = \sigma/\varepsilon$ for a harmonic strain of angular frequency
        `omega` (linearised, iso-strain, uniform): $M_T + i\omega T_0\beta^T(i\omega C +
        G)^{-1}\beta$."""
        omega = np.atleast_1d(np.asarray(omega, dtype=float))
        lin = {n: p.linear for n, p in self.phases.items()}
        beta = np.array([p.fraction * lin[n].beta for n, p in self.phases.items()])
        C = np.diag(list(self.heat_capacities.values()))
        G = self._laplacian()
        iso = self.moduli()["isothermal"]
        out = [iso + 1j * w * self.T0 * beta @ np.linalg.solve(1j * w * C + G, beta) for w in omega]
        return np.array(out)

    def loss_factor(self, omega) -> np.ndarray:
        """$Q^{-1} = \\mathrm{Im}\\,M^*/\\mathrm{Re}\\,M^*$ of the linearised averaged model."""
        M = self.complex_modulus(omega)
        return M.imag / M.real

    def zener_loss_factor(self, omega) -> np.ndarray:
        r"""Zener's Debye peak $\Delta\,\omega\bar\tau/(1 + (\omega\bar\tau)^2)$ with
        $\Delta = (M_U - M_R)/\sqrt{M_UM_R}$ and $\bar\tau = \tau\sqrt{M_U/M_R}$ ($\tau$ the
        exchange time at fixed strain); exact for two phases."""
        m = self.moduli()
        MU, MR = m["unrelaxed"], m["relaxed"]
        delta = (MU - MR) / math.sqrt(MU * MR)
        tau = self.relaxation_time * math.sqrt(MU / MR)
        w = np.asarray(omega, dtype=float)
        return delta * w * tau / (1 + (w * tau) ** 2)

    def _temperatures(self, temperatures: Mapping[str, float]) -> dict[str, float]:
        out = {}
        for n in self.phases:
            if n not in temperatures:
                raise InputError(f"temperatures: missing phase {n!r}; give {list(self.phases)}.")
            out[n] = float(temperatures[n])
            if not out[n] > 0:
                raise InputError(f"temperatures[{n!r}]: expected a positive temperature.")
        extra = set(temperatures) - set(self.phases)
        if extra:
            raise InputError(f"temperatures: unknown phase(s) {sorted(extra)}.")
        return out

    # --- the averaged models -------------------------------------------------------------
    def source_terms(self) -> dict[str, sp.Expr]:
        """The interfacial heat sources averaging produced, per unit volume:
        `"a<-b"`: $H_{ab}(T_b - T_a)$, in the symbols `T_a`, `T_b`, `H_a_b`."""
        out = {}
        for a, b in self.exchange:
            Ta, Tb = sp.symbols(f"T_{a} T_{b}", positive=True)
            out[f"{a}<-{b}"] = sp.Symbol(f"H_{a}_{b}", positive=True) * (Tb - Ta)
        return out

    def model(self, *, inertia: float | None = None, name: str | None = None) -> GenericModel:
        r"""The averaged composite at one material point, as a [`generic_mm.GenericModel`][].

        State: the phases' entropies `S_<phase>` per unit volume and, with `inertia` $\mu$,
        the macroscopic strain `eps` and its momentum `p`, with
        $E = p^2/2\mu + \sum_i f_iu_i(S_i/f_i, \varepsilon)$ and the canonical Poisson block
        on $(\varepsilon, p)$: $\dot\varepsilon = p/\mu$, $\dot p = -\sigma$ (one vibration
        mode of angular frequency near $\sqrt{M/\mu}$). Parameters (differentiable leaves):
        `H_a_b` per interface and, for phases with default energies, `C_`, `M_`, `alpha_`,
        `f_` per phase and `T0`.
        """
        mech = inertia is not None
        S = {n: sp.Symbol(f"S_{n}", real=True) for n in self.phases}
        eps, p = sp.symbols("eps p", real=True)
        params: dict[sp.Symbol, float] = {}
        T0 = sp.Symbol("T0", positive=True)
        params[T0] = self.T0
        energy = sp.Integer(0)
        for n, ph in self.phases.items():
            f = sp.Symbol(f"f_{n}", positive=True)
            params[f] = ph.fraction
            energy += f * self._phase_energy(ph, S[n] / f, eps if mech else 0, T0, params)
        state = list(S.values())
        L = None
        if mech:
            mu = sp.Symbol("mu", positive=True)
            params[mu] = _number(inertia, "inertia")
            energy += p**2 / (2 * mu)
            state = [eps, p, *state]
            L = sp.zeros(len(state))
            L[0, 1], L[1, 0] = 1, -1
        M = sp.zeros(len(state))
        for (a, b), H in self.exchange.items():
            Hs = sp.Symbol(f"H_{a}_{b}", positive=True)
            params[Hs] = H
            ia, ib = state.index(S[a]), state.index(S[b])
            Ta, Tb = sp.diff(energy, S[a]), sp.diff(energy, S[b])
            M[ia, ia] += Hs * Tb / Ta
            M[ib, ib] += Hs * Ta / Tb
            M[ia, ib] -= Hs
            M[ib, ia] -= Hs
        return GenericModel(
            state,
            energy,
            sum(S.values()),
            L,
            M,
            params=params,
            name=name or f"averaged {self.name}",
            description="Volume-averaged composite: one entropy per phase, interfacial heat "
            "exchange" + (", iso-strain thermoelasticity." if mech else "."),
        )

    @staticmethod
    def _phase_energy(ph: Phase, s, eps, T0, params) -> sp.Expr:
        if ph._energy_fn is not None:
            return ph.energy(s, eps)
        C = sp.Symbol(f"C_{ph.name}", positive=True)
        Mm, al = sp.symbols(f"M_{ph.name} alpha_{ph.name}", real=True)
        params[C], params[Mm], params[al] = ph.C, ph.modulus, ph.expansion
        return Mm * eps**2 / 2 + Mm * al * T0 * eps + C * T0 * (sp.exp((s - Mm * al * eps) / C) - 1)

    def structured(
        self,
        grid,
        *,
        conductivities: Mapping[str, float] | None = None,
        mechanics: bool = False,
        name=None,
    ):
        """The averaged composite over a macroscopic grid: two-temperature (one per phase)
        heat conduction with interfacial exchange in every cell and, with `mechanics=True`
        (1D), the macroscopic strain and momentum, as a
        [`generic_mm.structured.StructuredModel`][]. See
        [`two_temperature_model`][generic_mm.composites.two_temperature_model]."""
        from ._fields import two_temperature_model

        return two_temperature_model(
            self, grid, conductivities=conductivities, mechanics=mechanics, name=name
        )

    def field_state(
        self,
        grid,
        temperatures: Mapping[str, Any],
        *,
        strain: Any = None,
        momentum: Any = None,
    ) -> dict[str, np.ndarray]:
        """The fields of a state of [`structured`][generic_mm.composites.Composite.structured]
        on `grid`, for `compiled.layout.pack`: phase temperatures (numbers or arrays of the
        grid's shape) and, for a mechanical model, the strain per cell and the momentum per
        node (a periodic bar has as many nodes as cells, a free one one more)."""
        shape = tuple(grid.shape)
        volume = float(np.prod(grid.spacing))
        missing = set(self.phases) - set(temperatures)
        extra = set(temperatures) - set(self.phases)
        if missing or extra:
            raise InputError(
                f"field_state: temperatures must give exactly the phases {list(self.phases)}"
                f" (missing {sorted(missing)}, unknown {sorted(extra)})."
            )
        mech = strain is not None or momentum is not None
        eps = _field(0.0 if strain is None else strain, shape, "strain")
        out: dict[str, np.ndarray] = {}
        if mech:
            nodes = shape[0] if grid.periodic[0] else shape[0] + 1
            out["cell.eps"] = np.array(eps)
            out["node.p"] = _field(0.0 if momentum is None else momentum, (nodes,), "momentum")
        for n, ph in self.phases.items():
            Tn = _field(temperatures[n], shape, f"temperatures[{n!r}]")
            if not np.all(Tn > 0):
                raise InputError(f"field_state: temperatures[{n!r}] must be positive.")
            s = np.vectorize(lambda t, e, ph=ph: _entropy_for(ph, float(t), float(e)))(Tn, eps)
            out[f"cell.S_{n}"] = volume * ph.fraction * s
        return out

    def state(
        self,
        temperatures: Mapping[str, float],
        *,
        strain: float | None = None,
        momentum: float | None = None,
    ) -> dict[str, float]:
        """The state of [`model`][generic_mm.composites.Composite.model] with these phase
        temperatures; pass `strain` (and `momentum`) for a model with inertia: the state
        then includes `eps` and `p`."""
        T = self._temperatures(temperatures)
        mech = strain is not None or momentum is not None
        eps = float(strain or 0.0)
        out = {"eps": eps, "p": float(momentum or 0.0)} if mech else {}
        for n, ph in self.phases.items():
            out[f"S_{n}"] = ph.fraction * _entropy_for(ph, T[n], eps)
        return out

    def sources(self, compiled, ys) -> dict[str, jax.Array]:
        """The interfacial sources $H_{ab}(T_b - T_a)$ evaluated at states `ys` (shape
        `(..., n)`) of a compiled averaged model (from `model` or `structured`): numbers
        for the point model, fields for the structured one."""
        layout = compiled.layout
        prefix = "" if layout.is_flat else "cell."
        gE = conjugates(compiled, ys)
        out = {}
        for a, b in self.exchange:
            Ta = layout.select(gE, f"{prefix}S_{a}")
            Tb = layout.select(gE, f"{prefix}S_{b}")
            out[f"{a}<-{b}"] = compiled.params[f"H_{a}_{b}"] * (Tb - Ta)
        return out


def _field(value, shape: tuple[int, ...], where: str) -> np.ndarray:
    """`value` (a number or an array) as a finite float array of `shape`."""
    try:
        arr = np.asarray(value, dtype=float)
        arr = np.array(np.broadcast_to(arr, shape))
    except (TypeError, ValueError):
        raise InputError(
            f"field_state: {where} must be a number or an array of shape {shape}, got "
            f"{np.shape(value) if hasattr(value, 'shape') else type(value).__name__}."
        ) from None
    if not np.all(np.isfinite(arr)):
        raise InputError(f"field_state: {where} contains non-finite values.")
    return arr


def _number(value, where: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ModelError(f"{where}: expected a positive number, got {value!r}.") from None
    if not (math.isfinite(v) and v > 0):
        raise ModelError(f"{where}: expected a positive number, got {value!r}.")
    return v


def _entropy_for(ph: Phase, T: float, eps: float) -> float:
    """The entropy density of phase `ph` at temperature `T` and strain `eps`."""
    if ph._energy_fn is None:
        return ph.C * math.log(T / ph.T0) + ph.modulus * ph.expansion * eps
    s = sp.Symbol("s", real=True)
    Ts = sp.diff(ph.energy(s, sp.Float(eps)), s)
    guess = ph.linear.C * math.log(T / ph.linear.T0)
    try:
        return float(sp.nsolve(Ts - T, s, guess))
    except (ValueError, ZeroDivisionError) as err:
        raise InputError(
            f"phase {ph.name!r}: no entropy found where du/ds = {T:g} ({err})."
        ) from None
