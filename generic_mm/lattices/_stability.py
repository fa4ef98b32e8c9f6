r"""Where the Cauchy-Born rule fails: the first deformation at which a phonon goes soft.

Along a deformation path $F(\lambda)$ the lattice is stable while every phonon has
$\omega^2(k) > 0$. The search works with the sign-equivalent, periodic and bounded
$f(k) = \omega^2_{\min}(k)/s(k)$, $s(k) = \sum_{R\in\text{shell 1}} 4\sin^2(k\cdot R/2)$,
whose $k\to 0$ limit is $(V_0/m)\,\min\operatorname{eig}Q(n)/\sum_R (n\cdot R)^2$, with the
sign of the continuum's ellipticity $\min_n \min\operatorname{eig} Q(n)$ (the acoustic
tensor): $g(\lambda) = \min(\min_{k\ne 0} f, \text{ellipticity})$ changes sign at the first
soft mode.
A scan brackets the change and bisection on $g$ finds it to `tol`, each inner minimum
over $k$ taken on a grid and polished by BFGS (Optimistix); the same bisection on the long-wave part alone gives where strong
ellipticity is lost. The instability is *long-wave* when both coincide (the Cauchy-Born
continuum sees it), *short-wave* when a finite-$k$ mode goes soft first.
"""

from __future__ import annotations

import dataclasses
import functools
import numbers
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx

from .._errors import InputError
from ._geometry import PATHS

_KIND_TOL = 1e-8  # relative gap between the two critical stretches that counts as a tie


@dataclasses.dataclass(frozen=True)
class Instability:
    r"""The first soft phonon along a deformation path.

    - `deformation`: the critical deformation (the stretch for chains, $F$ in 2D).
    - `stretch`: the critical value of the path's parameter $\lambda$.
    - `wavevector`: the soft mode's referential wave vector, shape `(dim,)` (zero for a
        long-wave instability).
    - `reduced`: the same in units of the reciprocal vectors, folded into $(-1/2, 1/2]$
        (`(1/2, 0)` is the zone-boundary point $M$ in 2D, `1/2` period doubling in 1D).
    - `kind`: `"long-wave"` (the continuum loses strong ellipticity there: Cauchy-Born
        predicts it) or `"short-wave"` (a finite-$k$ mode goes soft while the continuum is
        still stable).
    - `direction`: for long-wave instabilities the direction $n$ of the lost ellipticity;
        otherwise the direction of `wavevector`.
    - `polarization`: the soft mode's displacement direction.
    - `equivalent`: every wave vector (reduced, folded) that the lattice's point group maps
        `wavevector` to and that is exactly as soft at the critical deformation: the
        pattern may pick any of them.
    - `long_wave_stretch`: where strong ellipticity is lost on the path (`inf` when not
        before `stop`): for a short-wave instability, how far Cauchy-Born would have gone.
    - `path`: the path's name.
    """

    deformation: Any
    stretch: float
    wavevector: np.ndarray
    reduced: np.ndarray
    kind: str
    direction: np.ndarray
    polarization: np.ndarray
    equivalent: np.ndarray
    long_wave_stretch: float
    path: str


def _grid(dim: int) -> np.ndarray:
    if dim == 1:
        xi = (np.arange(1, 512) / 512)[:, None]
    else:
        t = np.arange(96) / 96
        xi = np.stack(np.meshgrid(t, t, indexing="ij"), -1).reshape(-1, 2)[1:]
    return xi


class _Search:
    """The jitted pieces of the search for one lattice."""

    def __init__(self, lattice):
        self.lattice = lattice
        d = lattice.dim
        self.dim = d
        D = lattice._dynamical_program
        recip = jnp.asarray(lattice.reciprocal)
        shell1 = jnp.asarray(lattice.shells[0].vectors * lattice.spacing)
        self.xi_grid = jnp.asarray(_grid(d))

        def lowest(M):
            if d == 1:
                return M[0, 0]
            a, b, c = M[0, 0], M[0, 1], M[1, 1]
            return (a + c) / 2 - jnp.sqrt(jnp.maximum(((a - c) / 2) ** 2 + b**2, 1e-300))

        def f(xi, F):
            # k = 0 (mod the reciprocal lattice) is the long-wave limit, which `q` covers:
            # there 0/0 is replaced by +inf so that the minimum is taken elsewhere
            k = (xi - jnp.round(xi)) @ recip
            s = jnp.sum(4 * jnp.sin(shell1 @ k / 2) ** 2)
            ok = s > 1e-200
            return jnp.where(ok, lowest(D(k, F)) / jnp.where(ok, s, 1.0), jnp.inf)

        solver = optx.BFGS(rtol=1e-13, atol=1e-15)

        def polish(x0, F):
            sol = optx.minimise(f, solver, x0, args=F, max_steps=200, throw=False)
            return jnp.where(f(sol.value, F) < f(x0, F), sol.value, x0)

        @jax.jit
        def short(F):
            vals = jax.vmap(lambda xi: f(xi, F))(self.xi_grid)
            starts = self.xi_grid[jnp.argsort(vals)[:4]]
            xs = jax.vmap(lambda x0: polish(x0, F))(starts)
            fx = jax.vmap(lambda x: f(x, F))(xs)
            j = jnp.argmin(fx)
            return jnp.minimum(fx[j], jnp.min(vals)), xs[j]

        self.short = short

    def long(self, F: np.ndarray, lam: float) -> tuple[float, np.ndarray]:
        """The continuum's ellipticity (smallest acoustic-tensor eigenvalue over directions,
        same sign as the long-wave limit of f) and its direction."""
        W, _, A = (np.asarray(x) for x in self.lattice._cb_program(jnp.asarray(F)))
        if not (np.isfinite(W) and np.all(np.isfinite(A))):
            raise InputError(
                "instability: the Cauchy-Born energy or moduli are not finite "
                f"{f'at stretch {lam:.12g}' if np.isfinite(lam) else 'here'}: the potential is undefined (or overflows) at the bond lengths "
                "there; end the path before it."
            )
        return self.lattice._ellipticity(A)


def _path(lattice, path: Any, angle: float) -> tuple[str, Callable[[float], np.ndarray]]:
    def checked(build: Callable[[float], Any]) -> Callable[[float], np.ndarray]:
        return lambda lam: lattice._deformation(build(lam), f"the path at stretch {lam:.12g}")

    if callable(path):
        return getattr(path, "__name__", "custom"), checked(path)
    if not isinstance(path, str):
        raise InputError(
            "instability: path must be 'uniaxial', 'equibiaxial' or a function of the stretch "
            f"returning the deformation; got {type(path).__name__}."
        )
    if lattice.dim == 1:
        if path != "uniaxial":
            raise InputError(f"instability: a chain has one path, 'uniaxial'; got {path!r}.")
        if angle != 0.0:
            raise InputError("instability: angle is for uniaxial paths in 2D; a chain has none.")
        return "uniaxial", checked(lambda lam: lam)
    if path not in PATHS:
        raise InputError(
            f"instability: path must be one of {sorted(PATHS)} or a function of the stretch "
            f"returning F; got {path!r}."
        )
    if path == "uniaxial":
        return f"uniaxial (angle {angle:g})", checked(functools.partial(PATHS[path], angle=angle))
    if angle != 0.0:
        raise InputError("instability: angle is for the uniaxial path; equibiaxial has none.")
    return path, checked(PATHS[path])


def instability(
    lattice,
    path: Any = "uniaxial",
    *,
    angle: float = 0.0,
    start: float = 1.0,
    stop: float = 2.0,
    step: float = 0.005,
    tol: float = 1e-12,
) -> Instability:
    """See [`Lattice.instability`][generic_mm.lattices.Lattice.instability]."""
    checked = {}
    for name, value in (
        ("start", start),
        ("stop", stop),
        ("step", step),
        ("tol", tol),
        ("angle", angle),
    ):
        if (
            isinstance(value, bool)
            or not isinstance(value, numbers.Real)
            or not np.isfinite(float(value))
        ):
            raise InputError(f"instability: {name} must be a finite number, got {value!r}.")
        checked[name] = float(value)
    start, stop, step, tol = (checked[k] for k in ("start", "stop", "step", "tol"))
    if not (step > 0 and 1e-15 <= tol < 1e-3 and start != stop):
        raise InputError(
            "instability: need step > 0, 1e-15 <= tol < 1e-3 and start != stop; got "
            f"step={step!r}, tol={tol!r}, start={start!r}, stop={stop!r}."
        )
    name, F_of = _path(lattice, path, checked["angle"])
    search = _search(lattice)
    sign = 1.0 if stop > start else -1.0
    lams = np.append(np.arange(start, stop, sign * step), stop)

    @functools.cache
    def long(lam: float) -> float:
        """The continuum's ellipticity at stretch `lam`."""
        return search.long(F_of(lam), lam)[0]

    @functools.cache
    def g(lam: float) -> float:
        """min(short-wave f, ellipticity) at stretch `lam`: its sign is the lattice's."""
        short = float(search.short(jnp.asarray(F_of(lam)))[0])
        if np.isnan(short):
            raise InputError(
                f"instability: omega^2 is not finite at stretch {lam:.12g}: the potential is "
                "undefined (or overflows) at the bond lengths there; end the path before it."
            )
        return min(short, long(lam))

    if not (g(float(start)) > 0):
        raise InputError(
            f"instability: the lattice is already unstable at stretch {start:g} (a phonon has "
            "omega^2 <= 0 there); start the path where it is stable."
        )
    crit = _bisect(lams, g, tol)
    if crit is None:
        raise InputError(
            f"instability: no phonon goes soft for stretch from {start:g} to {stop:g}; "
            "extend stop (or check the potential)."
        )
    lw = _bisect(lams, long, tol)
    lw_stretch = float("inf") if lw is None else lw
    F_c = np.asarray(F_of(crit + sign * tol * abs(crit)))
    long_wave = lw is not None and abs(lw - crit) <= _KIND_TOL * abs(crit)
    d = lattice.dim
    if long_wave:
        n = search.long(F_c, crit)[1]
        A = np.asarray(lattice._cb_program(jnp.asarray(F_c))[2])
        Q = np.einsum("iJkL,J,L->ik", A, n, n)
        pol = np.linalg.eigh(Q)[1][:, 0]
        k = np.zeros(d)
        reduced = np.zeros(d)
    else:
        _, xi = search.short(jnp.asarray(F_c))
        reduced = _fold(np.asarray(xi, dtype=float))
        k = reduced @ lattice.reciprocal
        n = k / np.linalg.norm(k)
        D = np.asarray(lattice._dynamical_program(jnp.asarray(k), jnp.asarray(F_c)))
        pol = np.linalg.eigh(D)[1][:, 0]
    pol = pol * np.sign(pol[np.argmax(np.abs(pol))])
    F_crit = np.asarray(F_of(crit))
    equivalent = _equivalent(lattice, reduced, F_c)
    return Instability(
        deformation=float(F_crit[0, 0]) if d == 1 else F_crit,
        stretch=crit,
        wavevector=k,
        reduced=reduced,
        kind="long-wave" if long_wave else "short-wave",
        direction=n,
        polarization=pol,
        equivalent=equivalent,
        long_wave_stretch=lw_stretch,
        path=name,
    )


def _fold(xi: np.ndarray) -> np.ndarray:
    """Reduced coordinates folded into (-1/2, 1/2]."""
    out = xi - np.round(xi)
    out = np.where(np.abs(out) < 1e-12, 0.0, out)
    return np.where(np.isclose(out, -0.5, atol=1e-9), 0.5, out)


def _point_group(dim: int) -> list[np.ndarray]:
    if dim == 1:
        return [np.eye(1), -np.eye(1)]
    ops = []
    for j in range(6):
        c, s = np.cos(j * np.pi / 3), np.sin(j * np.pi / 3)
        rot = np.array([[c, -s], [s, c]])
        ops += [rot, rot @ np.diag([1.0, -1.0])]
    return ops


def _equivalent(lattice, reduced: np.ndarray, F: np.ndarray) -> np.ndarray:
    """The images of `reduced` under the point group that are as soft at `F`."""
    if not np.any(reduced):
        return reduced[None, :]
    k = reduced @ lattice.reciprocal
    inv = np.linalg.inv(lattice.reciprocal)
    images = np.array([_fold((g @ k) @ inv) for g in _point_group(lattice.dim)])
    unique: list[np.ndarray] = []
    for xi in images:
        if not any(np.allclose(xi, u, atol=1e-9) for u in unique):
            unique.append(xi)
    ks = np.array(unique) @ lattice.reciprocal
    w = np.asarray(lattice._dispersion_fn(jnp.asarray(ks), jnp.asarray(F)))
    scale = float(np.max(np.abs(w)))  # images differ from k by round-off only
    keep = np.abs(w[:, 0] - w[0, 0]) <= 1e-8 * scale
    return np.array(unique)[keep]


def _bisect(lams: np.ndarray, g: Callable[[float], float], tol: float) -> float | None:
    """The first stretch where `g` turns non-positive: the first scan point where it is
    (every inner minimum polished, so the scan misses no soft region wider than its step),
    then bisection between it and the point before."""
    bad = next((i for i, lam in enumerate(lams) if not g(float(lam)) > 0), None)
    if bad is None:
        return None
    i = bad
    if i == 0:
        return float(lams[0])
    lo, hi = float(lams[i - 1]), float(lams[i])
    while abs(hi - lo) > tol * max(abs(lo), 1.0):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):  # adjacent floats: as close as float64 gets
            break
        if g(mid) > 0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


@functools.lru_cache(maxsize=32)
def _search_cached(lattice) -> _Search:
    return _Search(lattice)


def _search(lattice) -> _Search:
    return _search_cached(lattice)


def stable(lattice, F: np.ndarray) -> bool:
    """See [`Lattice.stable`][generic_mm.lattices.Lattice.stable]."""
    search = _search(lattice)
    long = search.long(F, float("nan"))[0]
    short = float(search.short(jnp.asarray(F))[0])
    if np.isnan(short):
        raise InputError("stable: omega^2 is not finite at this deformation.")
    return bool(min(short, long) > 0)
