r"""Bravais lattices with pair potentials: the Cauchy-Born continuum and phonons.

A lattice site $X$ moves to $x = FX + u$. The Cauchy-Born energy density is the lattice
energy per reference volume $V_0$ at a uniform deformation,
$W(F) = V_0^{-1}\sum_{R} \phi_R(|FR|)$ (each bond once), and the harmonic expansion about
that state gives the dynamical matrix
$D(k) = m^{-1}\sum_{R} 4K_R(FR)\,\sin^2(k\cdot R/2)$ with the bond stiffness
$K(r) = \phi''\,\hat r\hat r^T + (\phi'/|r|)(I - \hat r\hat r^T)$. Wave vectors are
referential (the phase of site $X$ is $k\cdot X$), so the Brillouin zone does not move with
the deformation.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, cast

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize
import sympy as sp

from .._codegen import Program
from .._errors import InputError, ModelError
from .._validate import real_array
from ._cauchy_born import CauchyBorn, CauchyBornValues
from ._geometry import Shell, deformation_gradient, reciprocal, shells as neighbour_shells
from ._potentials import PairPotential, R as DISTANCE


class Lattice:
    """What chains and triangular lattices share (not built directly: use
    [`Chain`][generic_mm.lattices.Chain] or
    [`TriangularLattice`][generic_mm.lattices.TriangularLattice])."""

    dim: int
    kind: str
    _basis_exact: sp.Matrix

    def __init__(
        self,
        potentials: PairPotential | Sequence[PairPotential | None],
        *,
        shells: int | None = None,
        mass: float = 1.0,
        spacing: float | None = None,
    ):
        where = type(self).__name__
        if isinstance(potentials, PairPotential):
            count = 1 if shells is None else shells
            per_shell: list[PairPotential | None] = [potentials] * _count(count, where)
        else:
            if isinstance(potentials, (str, bytes)) or not isinstance(potentials, Sequence):
                raise ModelError(
                    f"{where}: expected a PairPotential or a list of them (one per shell, "
                    f"None to skip a shell), got {type(potentials).__name__}."
                )
            per_shell = list(potentials)
            if shells is not None:
                raise ModelError(
                    f"{where}: shells= is for one potential on several shells; with a list, "
                    "the list's length is the number of shells."
                )
            if not per_shell:
                raise ModelError(f"{where}: the list of potentials is empty.")
        for i, pot in enumerate(per_shell):
            if pot is not None and not isinstance(pot, PairPotential):
                raise ModelError(
                    f"{where}: shell {i + 1}: expected a PairPotential or None, got "
                    f"{type(pot).__name__}."
                )
        if all(p is None for p in per_shell):
            raise ModelError(f"{where}: every shell is None; give at least one potential.")
        self.basis = np.array(self._basis_exact.evalf(), dtype=float)
        self.shells: tuple[Shell, ...] = tuple(neighbour_shells(self.basis, len(per_shell)))
        self.potentials: tuple[PairPotential | None, ...] = tuple(per_shell)
        self.mass = _positive(mass, f"{where} mass")
        self.a, self.m = sp.symbols("a m", positive=True)
        self._phi = self._rename_params()
        self.params: dict[sp.Symbol, float] = {self.m: self.mass, **self._potential_params}
        self.spacing = (
            self._stress_free_spacing(where)
            if spacing is None
            else _positive(spacing, f"{where} spacing")
        )
        self.params = {self.a: self.spacing, **self.params}
        self.volume = float(abs(np.linalg.det(self.basis))) * self.spacing**self.dim
        """Reference volume per atom (length for chains, area in 2D)."""
        self.reciprocal = 2 * np.pi * reciprocal(self.basis) / self.spacing
        """Reciprocal lattice vectors (rows) of the reference lattice, with the $2\\pi$."""

    # -- construction helpers -------------------------------------------------------------------
    def _rename_params(self) -> list[sp.Expr | None]:
        """Each shell's potential in the distance `r`, parameter symbols made unique: a name
        that two shells use with different values (or assumptions) gets the shell's number
        appended."""
        seen: dict[str, set[tuple[sp.Symbol, float]]] = {}
        for pot in self.potentials:
            for sym, val in (pot.params if pot else {}).items():
                seen.setdefault(sym.name, set()).add((sym, val))
        self._potential_params: dict[sp.Symbol, float] = {}
        out: list[sp.Expr | None] = []
        for i, pot in enumerate(self.potentials):
            if pot is None:
                out.append(None)
                continue
            subs = {}
            for sym, val in pot.params.items():
                name = sym.name if len(seen[sym.name]) == 1 else f"{sym.name}_{i + 1}"
                new = sp.Symbol(name, **sym.assumptions0)
                subs[sym] = new
                self._potential_params[new] = val
            out.append(cast(sp.Expr, pot.expr.xreplace(subs)))
        return out

    def _stress_free_spacing(self, where: str) -> float:
        """The spacing that minimises the energy per atom of the undeformed lattice."""
        a = sp.Dummy("a", positive=True)
        e = sum(
            (
                sum(phi.subs(DISTANCE, a * float(s.distance)) for _ in s.vectors)
                for s, phi in zip(self.shells, self._phi)
                if phi is not None
            ),
            sp.Integer(0),
        )
        syms = tuple(self._potential_params)
        prog = Program([a], syms, cast(Any, [e, sp.diff(e, a)]))
        p = jnp.asarray([self._potential_params[s] for s in syms], dtype=float)
        grid = np.geomspace(1e-12, 1e12, 4801)  # any units: 200 points a decade
        vals = jax.vmap(lambda x: jnp.stack(prog(jnp.reshape(x, (1,)), p)))(jnp.asarray(grid))
        energy, slope = np.asarray(vals).T
        ok = np.isfinite(energy) & np.isfinite(slope)
        # a minimum: the slope turns from negative to positive (an exact zero on the grid
        # between them is allowed; a slope that underflows to zero for good is not)
        minima = []
        for i in range(len(grid) - 2):
            if not (ok[i] and slope[i] < 0):
                continue
            j = i + 1 if slope[i + 1] != 0 else i + 2
            if ok[j] and slope[j] > 0:
                minima.append((i, j))
        if not minima:
            raise ModelError(
                f"{where}: the potentials have no stress-free spacing between 1e-12 and 1e12 "
                "(the energy per atom has no minimum there); pass spacing= explicitly."
            )
        lo, hi = min(minima, key=lambda ij: energy[ij[0]])

        def slope_at(x: float) -> float:
            return float(prog(jnp.asarray([x]), p)[1])

        # relative tolerance only: the spacing may be 1e-10 (metres) or 1e3
        root = cast(Any, scipy.optimize.brentq)(
            slope_at, grid[lo], grid[hi], xtol=1e-300, rtol=4 * np.finfo(float).eps
        )
        return float(root)

    # -- symbols --------------------------------------------------------------------------------
    @functools.cached_property
    def F(self) -> sp.Matrix:
        """The deformation symbols: `[[lam]]` for chains, `[[F11, F12], [F21, F22]]` in 2D."""
        if self.dim == 1:
            return sp.Matrix([[sp.Symbol("lam", positive=True)]])
        return sp.Matrix(2, 2, lambda i, j: sp.Symbol(f"F{i + 1}{j + 1}", real=True))

    @functools.cached_property
    def _F_symbols(self) -> list[sp.Symbol]:
        return [cast(sp.Symbol, self.F[i, j]) for i in range(self.dim) for j in range(self.dim)]

    @functools.cached_property
    def k(self) -> tuple[sp.Symbol, ...]:
        """The wave vector symbols `k1` (, `k2`)."""
        return tuple(sp.Symbol(f"k{i + 1}", real=True) for i in range(self.dim))

    def _bonds(self):
        """(potential, bond vector X (reference, column), deformed length rho, deformed r)."""
        for shell, phi in zip(self.shells, self._phi):
            if phi is None:
                continue
            for off in shell.offsets:
                X = self.a * (sp.Matrix([list(off)]) * self._basis_exact).T
                r = self.F * X
                if self.dim == 1:
                    rho = r[0]
                else:
                    rho = sp.sqrt(sum(c**2 for c in r))
                yield phi, X, rho, r

    # -- Cauchy-Born ----------------------------------------------------------------------------
    @functools.cached_property
    def _cauchy_born_symbolic(self) -> CauchyBorn:
        V0 = self.a**self.dim * sp.Abs(self._basis_exact.det())
        W = sum((phi.subs(DISTANCE, rho) for phi, _, rho, _ in self._bonds()), sp.Integer(0)) / V0
        Fs = self._F_symbols
        P = sp.Matrix(self.dim, self.dim, lambda i, j: sp.diff(W, self.F[i, j]))
        A = sp.MutableDenseNDimArray.zeros(*(self.dim,) * 4)
        for i in range(self.dim):
            for J in range(self.dim):
                for k in range(self.dim):
                    for L in range(self.dim):
                        A[i, J, k, L] = sp.diff(P[i, J], self.F[k, L])
        A = sp.ImmutableDenseNDimArray(A)
        if self.dim == 1:
            return CauchyBorn(W, P[0, 0], A[0, 0, 0, 0], Fs[0], dict(self.params))
        return CauchyBorn(
            W, sp.ImmutableMatrix(P), A, sp.ImmutableMatrix(self.F), dict(self.params)
        )

    @functools.cached_property
    def _param_vector(self) -> tuple[tuple[sp.Symbol, ...], jax.Array]:
        syms = tuple(self.params)
        return syms, jnp.asarray([self.params[s] for s in syms], dtype=float)

    @functools.cached_property
    def _cb_program(self):
        cb = self._cauchy_born_symbolic
        d = self.dim
        A = sp.Matrix(
            d * d,
            d * d,
            lambda I, K: cb.moduli if d == 1 else cb.moduli[I // d, I % d, K // d, K % d],
        )
        P = sp.Matrix([[cb.stress]]) if d == 1 else cb.stress
        syms, p = self._param_vector
        prog = Program(self._F_symbols, syms, cast(Any, [cb.energy, P, A]))

        @jax.jit
        def evaluate(F):
            W, P, A = prog(F.reshape(-1), p)
            return W, P.reshape(d, d), A.reshape(d, d, d, d)

        return evaluate

    def _deformation(self, deformation: Any, where: str = "deformation") -> np.ndarray:
        """`deformation` as a checked `(dim, dim)` F; `None` is the reference lattice."""
        if deformation is None:
            return np.eye(self.dim)
        return deformation_gradient(deformation, self.dim, where)

    def cauchy_born(self, deformation: Any = None) -> CauchyBorn | CauchyBornValues:
        r"""The Cauchy-Born energy density, stress and tangent moduli.

        Without an argument: the symbolic [`CauchyBorn`][generic_mm.lattices.CauchyBorn]
        ($W$, $P$, $A$ as SymPy expressions of the deformation symbols). With a deformation
        (a stretch for chains, a 2x2 $F$ in 2D): their values there, with the continuum's
        stability ([`CauchyBornValues`][generic_mm.lattices.CauchyBornValues]).
        """
        if deformation is None:
            return self._cauchy_born_symbolic
        F = self._deformation(deformation)
        W, P, A = (np.asarray(x) for x in self._cb_program(jnp.asarray(F)))
        if not (np.isfinite(W) and np.all(np.isfinite(P)) and np.all(np.isfinite(A))):
            raise InputError(
                "cauchy_born: the energy density, stress or moduli are not finite at this "
                "deformation: the potential is undefined (or overflows) at its bond lengths."
            )
        ell, n = self._ellipticity(A)
        if self.dim == 1:
            return CauchyBornValues(float(W), float(P[0, 0]), float(A[0, 0, 0, 0]), ell, n)
        return CauchyBornValues(float(W), P, A, ell, n)

    def _ellipticity(self, A: np.ndarray) -> tuple[float, np.ndarray]:
        if self.dim == 1:
            return float(A[0, 0, 0, 0]), np.ones(1)
        theta = np.linspace(0.0, np.pi, 721)
        n = np.stack([np.cos(theta), np.sin(theta)], -1)
        Q = np.einsum("iJkL,tJ,tL->tik", A, n, n)
        lam = np.linalg.eigvalsh(Q)[:, 0]
        j = int(np.argmin(lam))
        # scipy's stubs type the result as `object` (1.17); it is an OptimizeResult
        res = cast(Any, scipy.optimize.minimize_scalar)(
            lambda t: np.linalg.eigvalsh(
                np.einsum("iJkL,J,L->ik", A, [np.cos(t), np.sin(t)], [np.cos(t), np.sin(t)])
            )[0],
            bounds=(theta[j] - np.pi / 720, theta[j] + np.pi / 720),
            method="bounded",
            options={"xatol": 1e-12},
        )
        best = float(min(res.fun, lam[j]))
        t = float(res.x) if res.fun <= lam[j] else float(theta[j])
        return best, np.array([np.cos(t), np.sin(t)])

    # -- phonons --------------------------------------------------------------------------------
    def dynamical_matrix(self) -> sp.ImmutableMatrix:
        r"""$D(k; F)$ as a SymPy matrix of the wave vector symbols `k`, the deformation
        symbols `F` and the parameters: $\omega^2(k)$ are its eigenvalues."""
        return self._dynamical_symbolic

    @functools.cached_property
    def _dynamical_symbolic(self) -> sp.ImmutableMatrix:
        d = self.dim
        D = sp.zeros(d, d)
        kvec = sp.Matrix(self.k)
        for phi, X, rho, r in self._bonds():
            d1 = sp.diff(phi, DISTANCE).subs(DISTANCE, rho)
            d2 = sp.diff(phi, DISTANCE, 2).subs(DISTANCE, rho)
            if d == 1:
                K = sp.Matrix([[d2]])
            else:
                rr = r * r.T / rho**2
                K = d2 * rr + d1 / rho * (sp.eye(d) - rr)
            phase = (kvec.T * X)[0]
            # 1 - cos(k.X) written as 2 sin^2(k.X/2): no cancellation at small k
            D += 4 * K * sp.sin(phase / 2) ** 2 / self.m
        return sp.ImmutableMatrix(D)

    @functools.cached_property
    def _dynamical_program(self):
        syms, p = self._param_vector
        d = self.dim
        prog = Program([*self._F_symbols, *self.k], syms, cast(Any, [self._dynamical_symbolic]))

        def D(k, F):
            return prog(jnp.concatenate([F.reshape(-1), k.reshape(-1)]), p)[0].reshape(d, d)

        return D

    @functools.cached_property
    def _dispersion_fn(self):
        D = self._dynamical_program

        @jax.jit
        def omega2(k, F):
            return jax.vmap(lambda q: jnp.linalg.eigvalsh(D(q, F)))(k)

        return omega2

    def _wavevectors(self, k: Any, where: str = "k") -> tuple[np.ndarray, tuple[int, ...]]:
        arr = np.array(real_array(k, where, expected="real wave vectors"))
        if self.dim == 1:
            batch = arr.shape
            arr = arr.reshape(-1, 1)
        else:
            if arr.ndim == 0 or arr.shape[-1] != 2:
                raise InputError(
                    f"{where}: expected wave vectors of shape (..., 2), got shape {arr.shape}."
                )
            batch = arr.shape[:-1]
            arr = arr.reshape(-1, 2)
        if not np.all(np.isfinite(arr)):
            raise InputError(f"{where}: expected finite numbers.")
        return arr, batch

    def dispersion(
        self,
        k: Any,
        deformation: Any = None,
        *,
        method: str = "closed-form",
        supercell: Any = None,
    ) -> np.ndarray:
        r"""Squared phonon frequencies $\omega^2(k)$ at a uniform deformation.

        **Arguments:**

        - `k`: referential wave vectors (phase $k\cdot X$ at reference site $X$): numbers for
            chains, shape `(..., 2)` in 2D.
        - `deformation`: the stretch (chains) or $F$ (2D); default the reference lattice.
        - `method`: `"closed-form"` (eigenvalues of the symbolic dynamical matrix) or
            `"hessian"` (Bloch projection of the JAX Hessian of the structured model's
            energy on a periodic supercell).
        - `supercell`: with `"hessian"`, the supercell (cells per lattice axis); every `k`
            must fit it (default: the smallest that fits all).

        **Returns:** $\omega^2$, shape `k.shape` for chains, `(..., 2)` in 2D (ascending
        branches). Negative values are unstable (soft) modes.
        """
        F = self._deformation(deformation)
        kk, batch = self._wavevectors(k)
        if method == "closed-form":
            if supercell is not None:
                raise InputError("dispersion: supercell= is for method='hessian'.")
            w2 = np.asarray(self._dispersion_fn(jnp.asarray(kk), jnp.asarray(F)))
        elif method == "hessian":
            from ._models import hessian_dispersion

            w2 = hessian_dispersion(self, kk, F, supercell)
        else:
            raise InputError(
                f"dispersion: method must be 'closed-form' or 'hessian', got {method!r}."
            )
        return w2.reshape(batch) if self.dim == 1 else w2.reshape(*batch, self.dim)

    def instability(
        self,
        path: Any = "uniaxial",
        *,
        angle: float = 0.0,
        start: float = 1.0,
        stop: float = 2.0,
        step: float = 0.005,
        tol: float = 1e-12,
    ):
        r"""The first deformation along a path at which a phonon goes soft.

        **Arguments:**

        - `path`: `"uniaxial"` (chains: the stretch; 2D: $F = I + (\lambda - 1)e\otimes e$
            with $e$ at `angle`), `"equibiaxial"` ($F = \lambda I$), or a function of
            $\lambda$ returning $F$.
        - `start`, `stop`: the range of $\lambda$ (the lattice must be stable at `start`;
            `stop < start` scans in compression).
        - `step`: the scan's step, which only brackets the first sign change.
        - `tol`: the bisection's relative tolerance on $\lambda$.

        **Returns:** an [`Instability`][generic_mm.lattices.Instability] with `.deformation`,
        `.wavevector` and `.kind` (`"long-wave"` or `"short-wave"`).

        **Raises:** `InputError` when the lattice is unstable at `start` or nothing goes soft
        before `stop`.
        """
        from ._stability import instability

        return instability(self, path, angle=angle, start=start, stop=stop, step=step, tol=tol)

    def model(
        self,
        shape: Any,
        deformation: Any = None,
        *,
        temperature: float | None = None,
        friction: float | None = None,
    ):
        r"""A periodic supercell of the lattice as a structured GENERIC model.

        The state of each atom is its displacement from the Cauchy-Born position $FX$ and
        its momentum (`u`, `p` for chains; `ux`, `uy`, `px`, `py` in 2D); the box deforms
        with $F$, held at `deformation` (model parameters `lam` or `F11` ..., changeable with
        `CompiledModel.with_params`). With a `temperature`, a heat bath (a reservoir cell
        `bath` with entropy `s` and energy $T_B s$) damps every atom with rate `friction`
        and takes the energy as heat: $E$ conserved, $S$ produced.

        **Arguments:**

        - `shape`: cells per lattice axis (at least $2n + 1$ for $n$ shells, and 3).
        - `deformation`: the held stretch (chains) or $F$ (2D); default the reference.
        - `temperature`, `friction`: the bath's temperature $T_B$ and the friction
            coefficient $\gamma$ (default 0.1; momenta relax at the rate $\gamma/m$, so pass
            $m/\tau$ for a relaxation time $\tau$; a friction without a temperature is
            refused).
        """
        from ._models import build_model

        return build_model(self, shape, deformation, temperature=temperature, friction=friction)

    def stable(self, deformation: Any) -> bool:
        r"""Whether the uniformly deformed lattice is stable under every phonon:
        $\omega^2(k) > 0$ for all $k \ne 0$ (a grid over the Brillouin zone, its lowest
        points polished by BFGS) and the Cauchy-Born continuum strongly elliptic (the
        long-wave limit)."""
        from ._stability import stable

        return stable(self, self._deformation(deformation))

    def potential_energy(self, displacement: Any, deformation: Any = None) -> float:
        """The lattice energy (no kinetic energy) of a periodic patch whose atoms are
        displaced by `displacement` (shape `(*shape, dim)`, the patch's shape) from the
        Cauchy-Born positions at `deformation`. Per atom it is below
        `cauchy_born(deformation).energy * volume` for a state that beats Cauchy-Born."""
        from ._modes import potential_energy

        return potential_energy(self, displacement, deformation)

    def softest_modes(
        self,
        shape: Any,
        deformation: Any = None,
        *,
        displacement: Any = None,
        count: int = 4,
        method: str = "lanczos",
        tol: float = 1e-10,
    ):
        r"""The `count` softest vibration modes ($\omega^2$ and patterns) of a periodic patch
        of `shape` cells held at `deformation`, about the uniform state or about
        `displacement` (shape `(*shape, dim)`, e.g. a pattern from a simulation).

        Matrix-free: Lanczos (`scipy.sparse.linalg.eigsh`) on JAX Hessian-vector products
        of the structured model's energy, rigid translations deflated; `method="dense"`
        forms the Hessian instead. Returns a [`Modes`][generic_mm.lattices.Modes].
        """
        from ._modes import softest_modes

        return softest_modes(
            self,
            shape,
            deformation,
            displacement=displacement,
            count=count,
            method=method,
            tol=tol,
        )

    def plot_dispersion(
        self,
        deformations: Any,
        *,
        route: Sequence[str] | None = None,
        points: int = 200,
        quantity: str = "omega",
        path: Any = None,
        title: str | None = None,
    ):
        r"""Dispersion curves along a path of high-symmetry points, one colour per
        deformation (a sweep: dark to light), as a matplotlib `Figure`.

        **Arguments:**

        - `deformations`: stretches (chains) or deformation gradients (2D), one or many.
        - `route`: names of [`high_symmetry_points`][generic_mm.lattices.Chain.high_symmetry_points]
            (default `Γ-X` for chains, `Γ-M-K-Γ` in 2D).
        - `quantity`: `"omega"` ($\omega$, imaginary frequencies drawn as $-|\omega|$) or
            `"omega2"`.
        - `path`: a file to write (PNG, SVG or PDF; written atomically).
        """
        from ._plots import plot_dispersion

        return plot_dispersion(
            self,
            deformations,
            route=route,
            points=points,
            quantity=quantity,
            path=path,
            title=title,
        )

    # -- geometry helpers -----------------------------------------------------------------------
    def reduced(self, k: Any) -> np.ndarray:
        """Wave vectors in units of the reciprocal vectors (rows of `reciprocal`)."""
        kk, batch = self._wavevectors(k)
        out = kk @ np.linalg.inv(self.reciprocal)
        return out.reshape(batch) if self.dim == 1 else out.reshape(*batch, self.dim)

    def positions(self, shape: Any) -> np.ndarray:
        """Reference positions of the sites of a supercell, shape `(*shape, dim)`."""
        shape = _shape(shape, self.dim)
        idx = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), -1)
        return self.spacing * (idx @ self.basis)

    def __repr__(self) -> str:
        pots = ", ".join(p.name if p else "-" for p in self.potentials)
        return (
            f"{type(self).__name__}(shells: {pots}; spacing {self.spacing:.6g}, mass {self.mass:g})"
        )


def _positive(value: Any, where: str) -> float:
    if isinstance(value, (bool, str, bytes)) or not isinstance(value, (int, float, np.number)):
        raise ModelError(f"{where}: expected a positive number, got {value!r}.")
    val = float(value)
    if not (np.isfinite(val) and val > 0):
        raise ModelError(f"{where}: expected a positive number, got {value!r}.")
    return val


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= value <= 8:
        raise ModelError(f"{where}: shells must be an integer from 1 to 8, got {value!r}.")
    return int(value)


def _shape(shape: Any, dim: int) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        out: tuple[Any, ...] = (shape,)
    elif isinstance(shape, (tuple, list)):
        out = tuple(shape)
    else:
        out = ()  # refused below
    if len(out) != dim or not all(
        isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 1 for n in out
    ):
        raise InputError(
            f"shape: expected {dim} positive integer(s) (cells per lattice axis), got {shape!r}."
        )
    return tuple(int(n) for n in out)
