r"""Second-order (Bloch-wave) homogenization of periodic media: the long-wave expansion.

A Bloch wave $u = e^{i\eta\cdot x}\psi(y)$ on the periodic cell turns $-\nabla\cdot C\nabla$
into $A(\eta) = G(\eta)^H C\,G(\eta)$ with $G(\eta)\psi = \nabla\psi + i\eta\psi$. On the
voxel mesh (unit voxels, $2^d$ Gauss points; $G_0$ the Gauss-point gradient, $N$ the
Gauss-point values) $A(\eta) = A_0 + i\eta_jB_j + \eta_j\eta_kA_{jk}$ with $A_0 = G_0^TCG_0$,
$B_j = G_0^TC(e_jN) - (e_jN)^TCG_0$ (real antisymmetric), $A_{jk} = (e_jN)^TC(e_kN)$, and the
mass is $M = N^T\rho N$. The Schur complement of $A(\eta) - \omega^2M$ onto the constant
fields (the cell mean; $A_0$ is inverted on zero-mean fields by preconditioned conjugate
gradients) is expanded in $\eta$ through zero-mean periodic correctors, one solve per index
combination:

- $A_0N_{bk} = -B_ke_b$, $A_0N_{bjk} = -(A_{jk}e_b - B_jN_{bk})$ and
    $A_0N_{bjkl} = -(B_lN_{bjk} + A_{jl}N_{bk})$ (symmetrised in $jk$ and $jkl$);
- for the mass: $A_0M_b = Me_b - \bar\rho e_b$ and $A_0P_{bl} = -(B_lM_b - MN_{bl})$.

Per unit volume the complement is $S = H_2 - \omega^2\bar\rho + i(T - \omega^2D) + F +
\omega^2E + \omega^4G + O(\eta^5)$, each coefficient the mean of a corrector's right-hand
side. The congruence by $(\bar\rho + iD - E - \omega^2G)^{-1/2}$ turns it into a Hermitian
polynomial symbol with the same long-wave branches to $O(\eta^4)$: $\bar\rho\,\omega^2c =
[H_2 + iX + Y]c$ with $X = T - (DH_2 + H_2D)/2\bar\rho$ and $Y = F + (EH_2 + H_2E)/2\bar\rho
+ (GH_2^2 + 2H_2GH_2 + H_2^2G)/4\bar\rho^2 + (DT + TD)/2\bar\rho - 3(D^2H_2 +
H_2D^2)/8\bar\rho^2 - DH_2D/4\bar\rho^2$. For conduction (one field) $X = 0$ and $Y = F +
EH_2/\bar\rho + GH_2^2/\bar\rho^2$: the mass terms at the first-order $\omega^2$.
"""

from __future__ import annotations

import functools
import itertools
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import lineax as lx
import numpy as np
from jaxtyping import Array

from .._custom_types import Scalar
from .._errors import InputError, SolverError
from .._validate import finite_number, is_traced, positive_number
from ._boundary import Periodic
from ._effective import (
    MAX_STEPS,
    _conductivities,
    _densities,
    _stiffness,
    to_tensor,
    voigt_pairs,
)
from ._microstructures import as_microstructure
from ._solve import conjugate_gradients, stress
from ._voxels import Voxels

TOL = 1e-12


# --- the cell operators -------------------------------------------------------------------


class _Program:
    """The two compiled kernels of one periodic grid and field size (one compile serves
    every material map): the actions $B_ju$, $A_{jk}u$, $Mu$ of the Bloch expansion on a
    node field `u` `(m, *shape)`, and the zero-mean cell solve $A_0x = f$."""

    def __init__(self, shape: tuple[int, ...], m: int):
        self.mesh = Voxels(shape, Periodic(), m)
        self.d = len(shape)
        self.actions = jax.jit(self._actions)
        self.solve = jax.jit(self._solve)

    def _actions(self, masks, C, rho, u):
        """`(B, A, M)`: lists `B[j]` $= B_ju$ and `A[j][k]` $= A_{jk}u$, and $Mu$."""
        mesh, d = self.mesh, self.d
        v = mesh.values(u)
        sigma = stress(masks, C, mesh.gradient(u))
        B, A = [], []
        for k in range(d):
            # The stress of the gradient-shaped field e_k (x) Nu at the Gauss points.
            slot = jnp.zeros(v.shape[:2] + (d,) + v.shape[2:]).at[:, :, k].set(v)
            s = stress(masks, C, slot)
            B.append(mesh.forces(s) - mesh.sources(sigma[:, :, k]))
            A.append([mesh.sources(s[:, :, j]) for j in range(d)])
        A = [[A[k][j] for k in range(d)] for j in range(d)]  # A[j][k] = (e_j N)^T C (e_k N) u
        density = sum(rho[p] * masks[p] for p in range(masks.shape[0]))
        # Lists, not stacked arrays: indexing them outside the compiled kernel is free.
        return B, A, mesh.sources(v * density)

    def _solve(self, masks, C, rhs, tol, max_steps, size):
        axes = tuple(range(-self.d, 0))
        rhs = rhs - jnp.mean(rhs, axis=axes, keepdims=True)
        sol = conjugate_gradients(
            lambda u: self.mesh.forces(stress(masks, C, self.mesh.gradient(u))),
            self.mesh.precondition,
            rhs,
            tol=tol,
            size=size,
            max_steps=max_steps,
        )
        x = sol.value - jnp.mean(sol.value, axis=axes, keepdims=True)
        return x, sol.stats["num_steps"], sol.result == lx.RESULTS.successful


_program = functools.lru_cache(maxsize=16)(_Program)


def _combos(d: int, n: int):
    """Index tuples `j <= k <= ...` of length `n`."""
    return list(itertools.combinations_with_replacement(range(d), n))


def _expand(program: _Program, masks, C, rho, tol, max_steps):
    """The coefficients `(H2, T, D, F, E, G, rho)` of the expanded Schur complement (module
    docstring), the correctors, and the solver statistics."""
    m, d = C.shape[1], program.d
    shape = program.mesh.shape
    # The algebra between the compiled kernels runs in NumPy (JAX would compile every small
    # operation once per grid), or in JAX when the properties are traced.
    xp = jnp if is_traced((masks, C, rho)) else np
    out = (lambda t: t) if xp is jnp else (lambda t: jax.tree.map(np.asarray, t))
    mean = lambda u: xp.mean(u, axis=tuple(range(-d, 0)))
    act = lambda u: out(program.actions(masks, C, rho, u))
    bound = lambda f: xp.max(xp.abs(jax.lax.stop_gradient(f) if xp is jnp else f))
    stiff, heavy = bound(C), bound(rho)
    stats = []

    def solve(rhs, size):
        # `size`: the magnitude of the terms that make up `rhs`, in the rhs's own units
        # (a stiffness, a mass, or a stiffness times a mass corrector): the tolerance is
        # relative to it, so capacities of 1e6 next to conductivities of 1 (SI) do not stop
        # the stiffness solves early, and a rhs that cancels to round-off converges at once.
        x, steps, ok = out(program.solve(masks, C, rhs, tol, max_steps, size))
        stats.append((steps, ok))
        return x

    idx = lambda *n: itertools.product(*[range(k) for k in n])
    ones = [np.eye(m)[b][(...,) + (None,) * d] * np.ones((m, *shape)) for b in range(m)]
    on1 = [act(e) for e in ones]
    rho_bar = mean(on1[0][2])[0]
    # First order: N_bk and the mass corrector M_b.
    N1 = {(b, k): solve(-on1[b][0][k], stiff) for b, k in idx(m, d)}
    Mb = {b: solve(on1[b][2], heavy) for b in range(m)}
    onN1 = {key: act(u) for key, u in N1.items()}
    onM = {b: act(u) for b, u in Mb.items()}
    # Second order: H2 (every jk) and N_bjk (j <= k); the mass corrector P_bl.
    W: dict[tuple[int, ...], Any] = {
        (b, j, k): on1[b][1][j][k] - onN1[b, k][0][j] for b, j, k in idx(m, d, d)
    }
    H2 = xp.stack([mean(W[key]) for key in idx(m, d, d)]).reshape(m, d, d, m)
    N2: dict[tuple[int, ...], Any] = {}
    for b, (j, k) in itertools.product(range(m), _combos(d, 2)):
        size = stiff * (1.0 + bound(N1[b, j]) + bound(N1[b, k]))
        N2[b, j, k] = N2[b, k, j] = solve(-(W[b, j, k] + W[b, k, j]) / 2, size)
    Y1: dict[tuple[int, ...], Any] = {(b, l): onM[b][0][l] - onN1[b, l][2] for b, l in idx(m, d)}
    D = -xp.stack([mean(Y1[key]) for key in idx(m, d)]).reshape(m, d, m)
    P = {
        (b, l): solve(-Y1[b, l], stiff * bound(Mb[b]) + heavy * (1.0 + bound(N1[b, l])))
        for b, l in idx(m, d)
    }
    onN2 = {(b, j, k): act(N2[b, j, k]) for b, (j, k) in itertools.product(range(m), _combos(d, 2))}
    onN2.update({(b, k, j): onN2[b, j, k] for (b, j, k) in list(onN2)})
    onP = {key: act(u) for key, u in P.items()}
    # Third order: T and N_bjkl, both symmetrised in jkl.
    Z: dict[tuple[int, ...], Any] = {}
    for b, j, k, l in idx(m, d, d, d):
        perms = list(itertools.permutations((j, k, l)))
        Z[b, j, k, l] = sum(onN2[b, p, q][0][r] + onN1[b, q][1][p][r] for p, q, r in perms) / 6
    T = xp.stack([mean(Z[key]) for key in idx(m, d, d, d)]).reshape(m, d, d, d, m)
    N3: dict[tuple[int, ...], Any] = {}
    onN3: dict[tuple[int, ...], Any] = {}
    for b, (j, k, l) in itertools.product(range(m), _combos(d, 3)):
        x = solve(-Z[b, j, k, l], stiff * (1.0 + bound(N2[b, j, k]) + bound(N1[b, j])))
        acted = act(x)  # once per distinct corrector, not once per permutation of jkl
        for p in set(itertools.permutations((j, k, l))):
            N3[(b, *p)], onN3[(b, *p)] = x, acted
    # Fourth order: F, E and G.
    F = xp.stack(
        [
            mean(onN2[b, j, k][1][l][n] - onN3[b, j, k, l][0][n])
            for b, j, k, l, n in idx(m, *[d] * 4)
        ]
    ).reshape(m, d, d, d, d, m)
    E = xp.stack(
        [mean(onM[b][1][l][n] - onP[b, l][0][n] - onN2[b, l, n][2]) for b, l, n in idx(m, d, d)]
    ).reshape(m, d, d, m)
    G = -xp.stack([mean(onM[b][2]) for b in range(m)])
    raw = dict(
        H2=xp.einsum("bjka->ajbk", H2),
        T=xp.einsum("bjkla->abjkl", T),
        D=xp.einsum("bla->abl", D),
        F=xp.einsum("bjklna->abjkln", F),
        E=xp.einsum("blna->abln", E),
        G=G.T,
        rho=rho_bar,
    )
    stack = lambda fields, *n: xp.stack([fields[key] for key in idx(*n)]).reshape(*n, m, *shape)
    correctors = (stack(N1, m, d), stack(N2, m, d, d), stack(N3, m, d, d, d))
    steps = xp.stack([s for s, _ in stats])
    ok = xp.all(xp.stack([o for _, o in stats]))
    return raw, correctors, steps, ok


def _sym(t, axes):
    """The average of `t` (a NumPy or JAX array) over the permutations of `axes`."""
    perms = list(itertools.permutations(axes))
    out = 0.0
    for perm in perms:
        order = list(range(t.ndim))
        for a, b in zip(axes, perm):
            order[a] = b
        out = out + t.transpose(order)
    return out / len(perms)


def _symbol(raw, xp):
    """The Hermitian symbol $(H_2, X, Y)$ from the expansion of the Schur complement
    (module docstring); index order `(a, j, b, k)`, `(a, b, j, k, l)`, `(a, b, j, k, l, n)`."""
    C, T, D, F, E, G, r = (raw[k] for k in ("H2", "T", "D", "F", "E", "G", "rho"))
    DH = xp.einsum("acj,ckbl->abjkl", D, C)
    HD = xp.einsum("ajck,cbl->abjkl", C, D)
    X = _sym(T - (DH + HD) / (2 * r), (2, 3, 4))
    EH = xp.einsum("acjk,clbn->abjkln", E, C)
    HE = xp.einsum("ajck,cbln->abjkln", C, E)
    HH = xp.einsum("ajck,cldn->adjkln", C, C)
    G2 = (
        xp.einsum("ac,cbjkln->abjkln", G, HH)
        + 2 * xp.einsum("ajck,cd,dlbn->abjkln", C, G, C)
        + xp.einsum("acjkln,cb->abjkln", HH, G)
    )
    DT = xp.einsum("acj,cbkln->abjkln", D, T) + xp.einsum("acjkl,cbn->abjkln", T, D)
    DD = xp.einsum("acj,cdk->adjk", D, D)
    DDH = xp.einsum("acjk,clbn->abjkln", DD, C) + xp.einsum("ajck,cbln->abjkln", C, DD)
    DHD = xp.einsum("acj,ckdl,dbn->abjkln", D, C, D)
    Y = (
        F
        + (EH + HE) / (2 * r)
        + G2 / (4 * r**2)
        + DT / (2 * r)
        - 3 * DDH / (8 * r**2)
        - DHD / (4 * r**2)
    )
    # X is antisymmetric and Y symmetric in the component indices (a Hermitian symbol):
    # imposed, so that solver round-off cannot show up as a spurious branch coupling
    X = (X - xp.swapaxes(X, 0, 1)) / 2
    Y = _sym(Y, (2, 3, 4, 5))
    return C, X, (Y + xp.swapaxes(Y, 0, 1)) / 2


# --- the result ---------------------------------------------------------------------------


class SecondOrder(eqx.Module):
    r"""Second-order homogenization of a periodic cell: the long-wave expansion of its
    lowest Bloch branches.

    The homogenized medium is the Hermitian symbol (physical units, wave vector $k$)
    $\bar\rho\,\omega^2c = [\mathcal C(k) + i\mathcal X(k) + \mathcal Y(k)]c + O(k^5)$, with
    $\mathcal C(k)_{ab} = C_{ajbk}k_jk_k$, $\mathcal X(k)_{ab} = X_{abjkl}k_jk_kk_l$ and
    $\mathcal Y(k)_{ab} = Y_{abjkln}k_jk_kk_lk_n$; in real space
    $\bar\rho\ddot u_a = C_{ajbk}\partial_{jk}u_b + X_{abjkl}\partial_{jkl}u_b -
    Y_{abjkln}\partial_{jkln}u_b$ (for conduction $\bar c\,\dot T = K_{jk}\partial_{jk}T -
    Y_{jkln}\partial_{jkln}T$ and $\omega^2$ is the decay rate $\lambda$ of a mode).

    - `first`: the first-order (classical) tensor: the $d\times d$ conductivity $K$, or the
        stiffness $C_{ijkl}$ `(d, d, d, d)` (see `voigt`).
    - `third`: $X$: zero for conduction `(d, d, d)`; `(d, d, d, d, d)` antisymmetric in its
        first two (component) indices for elasticity; scales as the period $l$; zero for a
        centrosymmetric cell. It enters the branches only through their coupling.
    - `fourth`: $Y$: `(d, d, d, d)` fully symmetric, or `(d, d, d, d, d, d)` symmetric in its
        components and in its four spatial indices; scales as $l^2$. The mass-variation
        terms are folded in at the first-order $\omega^2$.
    - `mass`: the mean capacity or density $\bar\rho$.
    - `correctors`: the zero-mean correctors $(N_{bk}, N_{bjk}, N_{bjkl})$ on the cell's
        nodes, shapes `(m, d, m, *shape)`, `(m, d, d, m, *shape)`, `(m, d, d, d, m, *shape)`
        ($m$ components; physical units: lengths to the first, second, third power).
    - `iterations`: conjugate-gradient iterations of every cell solve.
    - `period`: the cell's length $l$ along its first axis; `kind`: `"conductivity"` or
        `"elasticity"`.
    """

    first: Array
    third: Array
    fourth: Array
    mass: Scalar
    correctors: tuple[Array, Array, Array]
    iterations: Array
    period: float = eqx.field(static=True)
    kind: str = eqx.field(static=True)

    @property
    def voigt(self) -> Array:
        """The first-order stiffness in Voigt notation (as `effective_elasticity(...).tensor`)."""
        if self.kind != "elasticity":
            raise InputError("voigt: only an elastic result has a Voigt stiffness.")
        d = self.first.shape[0]
        I = voigt_pairs(d)
        return jnp.stack([jnp.stack([self.first[i, j, k, l] for k, l in I]) for i, j in I])

    def _general(self):
        """`(C, X, Y)` with explicit component axes (one component for conduction)."""
        C, X, Y = (np.asarray(t) for t in (self.first, self.third, self.fourth))
        if self.kind == "conductivity":
            return C[None, :, None, :], X[None, None], Y[None, None]
        return C, X, Y

    def _branches(self, direction):
        """`(lam, coef)` along the unit `direction`: $\\bar\\rho\\omega^2 = $ `lam` $k^2 +$
        `coef` $k^4$ per branch, ascending in `lam`."""
        C, X, Y = self._general()
        d = C.shape[1]
        n = np.asarray(direction, dtype=float)
        if n.shape != (d,) or not np.all(np.isfinite(n)) or not np.any(n):
            raise InputError(
                f"direction: expected {d} finite numbers, not all 0; got {direction!r}."
            )
        n = n / np.linalg.norm(n)
        H2 = np.einsum("ajbk,j,k->ab", C, n, n)
        Xn = np.einsum("abjkl,j,k,l->ab", X, n, n, n)
        Yn = np.einsum("abjkln,j,k,l,n->ab", Y, n, n, n, n)
        lam, V = np.linalg.eigh(H2)
        coef = np.empty_like(lam)
        start = 0
        while start < len(lam):
            # Branches of equal speed are one group (quasi-degenerate perturbation theory).
            stop = start + 1
            while stop < len(lam) and lam[stop] - lam[start] <= 1e-8 * abs(lam[-1]):
                stop += 1
            g, rest = V[:, start:stop], np.delete(V, np.s_[start:stop], axis=1)
            # g^T X g vanishes for one vector (X antisymmetric): only a group can be coupled
            coupling = g.T @ Xn @ g if stop - start > 1 else np.zeros((1, 1))
            if np.max(np.abs(coupling), initial=0.0) > 1e-8 * abs(lam[-1]) * self.period:
                raise InputError(
                    f"direction: {n.tolist()} is an acoustic axis whose equal-speed branches "
                    "are coupled at third order; omega^2 has an odd term there, not a beta."
                )
            gaps = lam[start] - np.delete(lam, np.s_[start:stop])
            heff = g.T @ Yn @ g + (g.T @ Xn.T @ rest) @ ((rest.T @ Xn @ g) / gaps[:, None])
            coef[start:stop] = np.linalg.eigvalsh((heff + heff.T) / 2)
            start = stop
        return lam, coef

    def dispersion(self, direction):
        r"""The dispersion coefficient $\beta$ of every long-wave branch along `direction`:
        $\omega^2 = c^2k^2(1 - \beta(kl)^2) + O(k^6)$ ($l$ = `period`); for conduction the
        decay rate $\lambda = (K_{nn}/\bar c)\,k^2(1 - \beta(kl)^2)$.

        **Arguments:**

        - `direction`: a nonzero vector of $d$ numbers (normalised here).

        **Returns:** conduction: $\beta$ (a float); elasticity: a NumPy array of $\beta$ per
        branch, ordered as `frequency2` (ascending speed; in 2D: shear-like, then
        pressure-like). Positive $\beta$: the branch bends below $ck$ (as across the layers
        of every laminate).
        """
        lam, coef = self._branches(direction)
        beta = -coef / (lam * self.period**2)
        return float(beta[0]) if self.kind == "conductivity" else beta

    def _eigenvalues(self, k, order: int, what: str):
        if isinstance(order, bool) or order not in (1, 2):
            raise InputError(f"{what}: order must be 1 or 2, got {order!r}.")
        d = self.first.shape[0]
        kk = np.asarray(k, dtype=float)
        if kk.ndim == 0 or kk.shape[-1] != d or not np.all(np.isfinite(kk)):
            raise InputError(f"{what}: k must be finite wave vectors, shape (..., {d}); got {k!r}.")
        flat = kk.reshape(-1, d)
        out = []
        for q in flat:
            size = np.linalg.norm(q)
            if size == 0:
                out.append(np.zeros(1 if self.kind == "conductivity" else d))
                continue
            lam, coef = self._branches(q / size)
            out.append((lam * size**2 + (order == 2) * coef * size**4) / float(self.mass))
        shape = kk.shape[:-1] if self.kind == "conductivity" else kk.shape
        return np.asarray(out).reshape(shape)

    def frequency2(self, k, *, order: int = 2):
        r"""$\omega^2$ of every elastic branch at the wave vector(s) `k` (shape `(..., d)`):
        $c^2k^2$ (`order=1`) or $c^2k^2(1 - \beta(kl)^2)$ (`order=2`). Returns a NumPy array
        `(..., d)`, branches ascending in speed."""
        if self.kind != "elasticity":
            raise InputError("frequency2: a conduction result has decay rates; use rate(k).")
        return self._eigenvalues(k, order, "frequency2")

    def rate(self, k, *, order: int = 2):
        r"""The decay rate $\lambda$ of the temperature mode $e^{ik\cdot x}$ at the wave
        vector(s) `k` (shape `(..., d)`): $k\cdot Kk/\bar c$ (`order=1`) or that times
        $(1 - \beta(kl)^2)$ (`order=2`). Returns a NumPy array of shape `(...)`."""
        if self.kind != "conductivity":
            raise InputError("rate: an elastic result has frequencies; use frequency2(k).")
        return self._eigenvalues(k, order, "rate")


def _second_order(micro, C, rho, period, tol, max_steps, kind, what) -> SecondOrder:
    period = positive_number(period, "period")
    tol = finite_number(tol, "tol")
    if not 0 < tol < 1:
        raise InputError(f"tol: must be in (0, 1), got {tol!r}.")
    if not isinstance(max_steps, (int, np.integer)) or isinstance(max_steps, bool) or max_steps < 1:
        raise InputError(f"max_steps: expected a positive integer, got {max_steps!r}.")
    count = C.shape[0]
    masks = jnp.stack([jnp.asarray(micro == p, dtype=float) for p in range(count)])
    program = _program(micro.shape, C.shape[1])
    raw, (N1, N2, N3), steps, ok = _expand(
        program, masks, C, rho, jnp.asarray(tol), jnp.asarray(max_steps)
    )
    if not is_traced(ok) and not bool(ok):
        raise SolverError(
            f"{what}: a cell solve did not reach tol={tol:g} in {int(max_steps)} steps; raise "
            "max_steps or loosen tol."
        )
    C2, X, Y = _symbol(raw, jnp if is_traced(raw) else np)
    h = period / micro.shape[0]
    if kind == "conductivity":
        C2, X, Y = C2[0, :, 0, :], X[0, 0], Y[0, 0]  # type: ignore[index]
    return SecondOrder(
        first=jnp.asarray(C2),
        third=jnp.asarray(h * X),
        fourth=jnp.asarray(h**2 * Y),
        mass=jnp.asarray(raw["rho"]),
        correctors=(jnp.asarray(h * N1), jnp.asarray(h**2 * N2), jnp.asarray(h**3 * N3)),
        iterations=jnp.asarray(steps),
        period=period,
        kind=kind,
    )


def second_order_conductivity(
    microstructure,
    conductivities,
    capacities=None,
    *,
    period: float = 1.0,
    tol: float = TOL,
    max_steps: int = MAX_STEPS,
) -> SecondOrder:
    r"""Second-order homogenization of heat conduction $c\,\dot T = \nabla\cdot k\nabla T$
    in a periodic cell: the effective conductivity and the $O((kl)^2)$ correction of the
    decay rate of a mode of wavelength $2\pi/k$.

    **Arguments:**

    - `microstructure`: integer array of phase indices (2D or 3D), one cell of the periodic
        medium (voxels are cubes).
    - `conductivities`: one value per phase (isotropic) or one $d\times d$ symmetric
        positive-definite tensor per phase.
    - `capacities`: one volumetric heat capacity per phase (default 1).
    - `period`: the cell's length along its first axis (the voxel size is
        `period / shape[0]`).
    - `tol`, `max_steps`: relative residual and step limit of the conjugate-gradient solves.

    **Returns:** a [`SecondOrder`][generic_mm.homogenization.SecondOrder]: `.first` is $K$
    (equal to `effective_conductivity(...).tensor` to solver tolerance), `.fourth` the
    fully symmetric $Y$ with $\lambda(k) = (k\cdot Kk + Y_{jkln}k_jk_kk_lk_n)/\bar c$,
    `.rate(k)`, `.dispersion(direction)`.

    **Example:**

    ```python
    r = hz.second_order_conductivity(hz.laminate((32, 2), 0.5), [1.0, 10.0], [1.0, 5.0])
    r.dispersion([1, 0])  # hz.laminate_dispersion((0.5, 0.5), (1, 10), (1, 5))[1] + O(h^2)
    r.rate([2.0, 0.0])  # decay rate of cos(2x): K k^2 / C (1 - beta (k l)^2)
    ```
    """
    micro = as_microstructure(microstructure)
    d, count = micro.ndim, int(micro.max()) + 1
    C = _conductivities(conductivities, count, d)[:, None, :, None, :]
    rho = _densities(capacities, count, "capacities")
    return _second_order(
        micro, C, rho, period, tol, max_steps, "conductivity", "second_order_conductivity"
    )


def second_order_elasticity(
    microstructure,
    moduli,
    densities=None,
    *,
    period: float = 1.0,
    tol: float = TOL,
    max_steps: int = MAX_STEPS,
) -> SecondOrder:
    r"""Second-order homogenization of elastic waves $\rho\ddot u = \nabla\cdot C\nabla u$ in
    a periodic cell (2D: plane strain): the effective stiffness and the dispersion
    $\omega^2 = c^2k^2(1 - \beta(kl)^2)$ of every long-wave branch.

    **Arguments:**

    - `microstructure`: integer array of phase indices (2D or 3D), one cell (cubic voxels).
    - `moduli`: per phase, the isotropic `(bulk, shear)` pair (3D moduli) or a Voigt
        stiffness matrix, as for
        [`effective_elasticity`][generic_mm.homogenization.effective_elasticity].
    - `densities`: one mass density per phase (default 1).
    - `period`, `tol`, `max_steps`: as for
        [`second_order_conductivity`][generic_mm.homogenization.second_order_conductivity].

    **Returns:** a [`SecondOrder`][generic_mm.homogenization.SecondOrder]: `.first` the
    stiffness $C_{ijkl}$ (`.voigt` equals `effective_elasticity(...).tensor` to solver
    tolerance), `.third`, `.fourth`, `.frequency2(k)`, `.dispersion(direction)`.

    **Example:**

    ```python
    r = hz.second_order_elasticity(hz.inclusion((16, 16), 0.3), [(1, 0.5), (9, 4)], [1, 3])
    r.dispersion([1, 1])  # beta of the shear-like and pressure-like branches along [11]
    r.frequency2([[0.5, 0.0]], order=1)  # omega^2 per branch, first order
    ```
    """
    micro = as_microstructure(microstructure)
    d, count = micro.ndim, int(micro.max()) + 1
    C = to_tensor(_stiffness(moduli, count, d), d)
    rho = _densities(densities, count, "densities")
    return _second_order(
        micro, C, rho, period, tol, max_steps, "elasticity", "second_order_elasticity"
    )
