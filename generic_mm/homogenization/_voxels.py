r"""Voxel finite elements: the RVE cell problem on a pixel/voxel grid.

Every pixel is a (bi/tri)linear element of unit size; a field with `m` components lives on
the nodes. The operator $u \mapsto \sum_e B_e^T C_e B_e u$ is applied without assembly:
corner values are gathered with rolls (periodic) or slices, gradients are formed at the
$2^d$ Gauss points, and forces are scattered back the same way. Conductivity is the case
$m = 1$, $C_{0i0j} = k_{ij}$; elasticity $m = d$ with the stiffness $C_{ijkl}$.

The cell solve applies the same operator as a stencil (`PhaseStiffness`): each phase's
element stiffness $K_p = w\sum_q G_q^T C_p G_q$ (exact for these elements) is formed once,
and the node force at $x$ sums, over the $2^d$ cells $x - c_a$ that share the node, row $a$
of $K_{p}$ applied to that cell's corner values, weighted by the cell's phase indicator.
Every value is read from one padded copy of the field (periodic images or zeros), so XLA
fuses the sum into one loop over the nodes per component of the field, with no gathered
copies in memory. The cell averages come from each phase's moments of the corner values
(`Voxels.moments`) and the same element matrices, again without Gauss-point fields.

The boundary condition on the fluctuation $\tilde u$ of $u = Ex + \tilde u$ chooses the
nodes (an `AbstractNodes`): periodic nodes that wrap, or the nodes of an open box with
`fixed_layers` boundary layers held at zero (1: affine/Dirichlet; 0: uniform flux/Neumann,
every node free). The reference preconditioner is the inverse of the unit-coefficient
Laplacian on the same nodes, per component: diagonal in Fourier space (periodic) or in the
tensor-product eigenbasis of the 1D stiffness and mass matrices (box).
"""

from __future__ import annotations

import abc
import itertools
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg
from jaxtyping import Array

GAUSS = (0.5 - 0.5 / math.sqrt(3), 0.5 + 0.5 / math.sqrt(3))


class AbstractNodes(eqx.Module):
    """The nodes of a voxel grid of `shape` cells: layout, free nodes, gather/scatter
    between nodes and cell corners, and the unit-Laplacian preconditioner on them."""

    shape: eqx.AbstractVar[tuple[int, ...]]
    node_shape: eqx.AbstractVar[tuple[int, ...]]
    mask: eqx.AbstractVar[Array]

    @abc.abstractmethod
    def gather(self, u: Array, corner: tuple[int, ...]) -> Array:
        """Node field `(m, *nodes)` -> its values at one corner of every cell `(m, *shape)`."""

    @abc.abstractmethod
    def scatter(self, f: Array, corner: tuple[int, ...]) -> Array:
        """Forces at one corner of every cell `(m, *shape)` -> node forces `(m, *nodes)`."""

    @abc.abstractmethod
    def precondition(self, r: Array) -> Array:
        """The inverse unit Laplacian on these nodes, applied to every component of `r`."""

    @abc.abstractmethod
    def pad(self, x: Array) -> Array:
        """A node or cell field with one more layer on both sides of each of its trailing
        `d` axes: the periodic images (periodic nodes) or zeros (a box, outside of which
        there are no nodes and no material)."""

    @abc.abstractmethod
    def restrict(self, r: Array) -> Array:
        """`r` with its fixed nodes set to zero (`r * mask`)."""


def _spatial_axes(d: int) -> tuple[int, ...]:
    return tuple(range(1, d + 1))


def _layer(ndim: int, d: int) -> list[tuple[int, int]]:
    """`jnp.pad` widths: one layer on both sides of the trailing `d` of `ndim` axes."""
    return [(0, 0)] * (ndim - d) + [(1, 1)] * d


def _window(padded: Array, offset: tuple[int, ...], shape: tuple[int, ...]) -> Array:
    """A padded field (`AbstractNodes.pad`) read at `x + offset` for every `x` of a grid of
    `shape` (offsets in {-1, 0, 1}): a plain slice, which XLA fuses into its consumer."""
    window = (slice(1 + o, 1 + o + n) for o, n in zip(offset, shape, strict=True))
    return padded[(..., *window)]


class PeriodicNodes(AbstractNodes):
    """One node per cell; the grid wraps (periodic fluctuations)."""

    shape: tuple[int, ...] = eqx.field(static=True)
    node_shape: tuple[int, ...] = eqx.field(static=True)
    mask: Array
    inverse: Array

    def __init__(self, shape):
        self.shape = self.node_shape = tuple(shape)
        self.mask = jnp.ones(self.shape)
        d = len(self.shape)
        symbols = []
        for n in self.shape:
            t = 2 * np.pi * np.arange(n) / n
            symbols.append((2 - 2 * np.cos(t), (4 + 2 * np.cos(t)) / 6))
        symbols[-1] = tuple(s[: self.shape[-1] // 2 + 1] for s in symbols[-1])
        D = 0.0
        for i in range(d):
            term = 1.0
            for j, (k1, m1) in enumerate(symbols):
                v = k1 if j == i else m1
                term = term * v.reshape([-1 if a == j else 1 for a in range(d)])
            D = D + term
        D = np.asarray(D)
        # The constant mode (D = 0) is the fluctuation's nullspace: left at zero.
        self.inverse = jnp.asarray(
            np.where(D > 1e-12 * D.max(), 1.0 / np.where(D > 0, D, 1.0), 0.0)
        )

    def gather(self, u, corner):
        return jnp.roll(u, tuple(-o for o in corner), _spatial_axes(len(self.shape)))

    def scatter(self, f, corner):
        return jnp.roll(f, corner, _spatial_axes(len(self.shape)))

    def precondition(self, r):
        axes = tuple(range(r.ndim - len(self.shape), r.ndim))
        return jnp.fft.irfftn(jnp.fft.rfftn(r, axes=axes) * self.inverse, s=self.shape, axes=axes)

    def pad(self, x):
        return jnp.pad(x, _layer(x.ndim, len(self.shape)), mode="wrap")

    def restrict(self, r):
        return r  # every node is free


class BoxNodes(AbstractNodes):
    """The `n + 1` nodes per axis of an open box; the outer `fixed_layers` layers of nodes
    on every face are held at zero (1: affine data; 0: every node free)."""

    shape: tuple[int, ...] = eqx.field(static=True)
    node_shape: tuple[int, ...] = eqx.field(static=True)
    fixed_layers: int = eqx.field(static=True)
    mask: Array
    bases: tuple[Array, ...]
    inverse: Array

    def __init__(self, shape, *, fixed_layers: int):
        self.shape = tuple(shape)
        self.node_shape = tuple(n + 1 for n in self.shape)
        self.fixed_layers = int(fixed_layers)
        free = self._free()
        mask = np.zeros(self.node_shape)
        mask[free] = 1
        self.mask = jnp.asarray(mask)
        bases, lams = [], []
        for n, keep in zip(self.shape, free, strict=True):
            k = n + 1
            K = 2 * np.eye(k) - np.eye(k, k=1) - np.eye(k, k=-1)
            M = (4 * np.eye(k) + np.eye(k, k=1) + np.eye(k, k=-1)) / 6
            K[0, 0] = K[-1, -1] = 1
            M[0, 0] = M[-1, -1] = 2 / 6
            lam, V = scipy.linalg.eigh(K[keep, keep], M[keep, keep])
            lam[np.abs(lam) < 1e-12] = 0.0
            bases.append(jnp.asarray(V))
            lams.append(lam)
        d = len(self.shape)
        D = np.asarray(
            sum(lam.reshape([-1 if a == i else 1 for a in range(d)]) for i, lam in enumerate(lams))
        )
        self.bases = tuple(bases)
        self.inverse = jnp.asarray(np.where(D > 0, 1.0 / np.where(D > 0, D, 1.0), 0.0))

    def _free(self) -> tuple[slice, ...]:
        f = self.fixed_layers
        return tuple(slice(f, n + 1 - f) for n in self.shape)

    def gather(self, u, corner):
        return u[
            (slice(None),) + tuple(slice(o, o + n) for o, n in zip(corner, self.shape, strict=True))
        ]

    def scatter(self, f, corner):
        return jnp.pad(f, [(0, 0)] + [(o, 1 - o) for o in corner])

    def precondition(self, r):
        x = r[(slice(None),) + self._free()]
        for i, V in enumerate(self.bases):
            x = jnp.moveaxis(jnp.tensordot(x, V, axes=([i + 1], [0])), -1, i + 1)
        x = x * self.inverse
        for i, V in enumerate(self.bases):
            x = jnp.moveaxis(jnp.tensordot(x, V, axes=([i + 1], [1])), -1, i + 1)
        free = zip(self._free(), self.node_shape, strict=True)
        return jnp.pad(x, [(0, 0)] + [(s.start, n - s.stop) for s, n in free])

    def pad(self, x):
        return jnp.pad(x, _layer(x.ndim, len(self.shape)))

    def restrict(self, r):
        return r * self.mask if self.fixed_layers else r


class Voxels:
    """Static geometry of a voxel mesh on the nodes a boundary condition chooses:
    gather/scatter, the shape functions' Gauss-point gradients `G` `(Q, d, 2^d)` and values
    `N` `(Q, 2^d)`, preconditioner."""

    def __init__(self, shape: tuple[int, ...], bc, components: int):
        self.shape = tuple(shape)
        self.d = len(shape)
        self.m = components
        self.nodes: AbstractNodes = bc.nodes(self.shape)
        self.node_shape = self.nodes.node_shape
        self.mask = self.nodes.mask
        self.corners = list(itertools.product((0, 1), repeat=self.d))
        points = list(itertools.product(GAUSS, repeat=self.d))
        G = np.zeros((len(points), self.d, len(self.corners)))
        N = np.zeros((len(points), len(self.corners)))
        for q, x in enumerate(points):
            for a, c in enumerate(self.corners):
                N[q, a] = math.prod(x[j] if c[j] else 1 - x[j] for j in range(self.d))
                for i in range(self.d):
                    g = 1.0
                    for j in range(self.d):
                        if j == i:
                            g *= 1.0 if c[j] else -1.0
                        else:
                            g *= x[j] if c[j] else 1 - x[j]
                    G[q, i, a] = g
        self.G = jnp.asarray(G)
        self.N = jnp.asarray(N)
        self.weight = 1.0 / len(points)

    def gather(self, u):
        """Node field `(m, *nodes)` -> corner values `(m, 2^d, *shape)`."""
        return jnp.stack([self.nodes.gather(u, c) for c in self.corners], axis=1)

    def scatter(self, f):
        """Corner forces `(m, 2^d, *shape)` -> node forces `(m, *nodes)`."""
        return sum(self.nodes.scatter(f[:, a], c) for a, c in enumerate(self.corners))

    def gradient(self, u):
        """Node field -> gradients at the Gauss points `(Q, m, d, *shape)`."""
        return jnp.einsum("qia,ma...->qmi...", self.G, self.gather(u))

    def forces(self, stress):
        """Stresses at the Gauss points `(Q, m, d, *shape)` -> node forces."""
        return self.scatter(self.weight * jnp.einsum("qia,qmi...->ma...", self.G, stress))

    def values(self, u):
        """Node field -> values at the Gauss points `(Q, m, *shape)`."""
        return jnp.einsum("qa,ma...->qm...", self.N, self.gather(u))

    def sources(self, f):
        """Values at the Gauss points `(Q, m, *shape)` -> node forces: the transpose of
        `values`, with the Gauss weight (as `forces` is of `gradient`)."""
        return self.scatter(self.weight * jnp.einsum("qa,qm...->ma...", self.N, f))

    def precondition(self, r):
        """Apply the inverse unit Laplacian (same boundary conditions) to every component."""
        return self.nodes.precondition(r)

    def element_matrices(self, C: Array) -> Array:
        r"""Per-phase element stiffness $K_p = w\sum_q G_q^T C_p G_q$ `(P, m, 2^d, m, 2^d)`
        (rows: component and corner of the force; columns: of the field) from `C`
        `(P, m, d, m, d)`: what `forces(stress(gradient(u)))` does to one cell of phase $p$."""
        # W_klab = w sum_q G_qka G_qlb is a constant; the contraction with C is a broadcast
        # and a sum (no dot: XLA compiles each dot apart, and this runs once per solve).
        G = np.asarray(self.G)
        W = self.weight * np.einsum("qka,qlb->abkl", G, G)
        Ct = jnp.swapaxes(C, 2, 3)[:, :, None, :, None]  # (P, m, 1, m, 1, d, d)
        return jnp.sum(Ct * W[:, None, :], axis=(-2, -1))

    def stiffness(self, masks: Array, C: Array) -> PhaseStiffness:
        """The cell operator `u -> forces(stress(masks, C, gradient(u)))` of phase indicators
        `masks` `(P, *shape)` and moduli `C` `(P, m, d, m, d)`, as a stencil (equal to
        round-off); see `PhaseStiffness`."""
        return PhaseStiffness(
            self.nodes, tuple(self.corners), self.element_matrices(C), self.nodes.pad(masks)
        )

    def centroid_gradient(self, u: Array) -> Array:
        """Node field `(m, *nodes)` -> its gradient at the cell centres `(m, d, *shape)`: the
        mean over the Gauss points of `gradient(u)`."""
        mean = np.asarray(self.G).mean(axis=0)
        padded = self.nodes.pad(u)
        corners = [_window(padded, c, self.shape) for c in self.corners]
        return jnp.stack(
            [sum(float(mean[i, a]) * v for a, v in enumerate(corners)) for i in range(self.d)],
            axis=-self.d - 1,
        )

    def moments(self, masks: Array, u: Array) -> Array:
        r"""Each phase's moments of the corner values $u_e$ (`m 2^d` numbers) of the cells,
        `(P, k, k)` with $k = m2^d + 1$: $\sum_e\chi_p(e)v_ev_e^T/N$, $v_e = (u_e, 1)$, i.e.
        the volume fraction (last entry), the sum of the corner values over the phase's
        cells (last row) and their second moments (the rest), all per cell of the grid, from
        phase indicators `masks` `(P, *shape)` and a node field `u` `(m, *nodes)`. One slab
        of cells along the first axis at a time (a `scan` of small dots): the gathered
        corner values never fill memory."""
        P, m, d = masks.shape[0], u.shape[0], self.d
        padded = self.nodes.pad(u)
        rest = self.shape[1:]

        def slab(total, i):
            layer = jax.lax.dynamic_slice_in_dim(padded, i + 1, 2, axis=1)  # nodes i, i + 1
            corners = [_window(layer[:, c[0]], c[1:], rest).reshape(m, -1) for c in self.corners]
            v = jnp.stack(corners, axis=1).reshape(m * 2**d, -1)
            v = jnp.concatenate([v, jnp.ones((1, v.shape[1]), v.dtype)])
            chi = jax.lax.dynamic_index_in_dim(masks, i, axis=1, keepdims=False).reshape(P, 1, -1)
            return total + jax.lax.dot_general(chi * v, v, (((2,), (1,)), ((), ()))), None

        k = m * 2**d + 1
        zero = jnp.zeros((P, k, k), jnp.result_type(masks, u))
        total, _ = jax.lax.scan(slab, zero, jnp.arange(self.shape[0]))
        return total / math.prod(self.shape)

    def phase_forces(self, masks: Array, stresses: Array) -> Array:
        r"""Node forces `(m, *nodes)` of a stress that is uniform in each phase, `stresses`
        `(P, m, d)`: `forces` of $\sum_p \chi_p\sigma_p$ at every Gauss point."""
        mean = np.asarray(self.G).mean(axis=0)  # the Gauss weight is 1/Q
        rows = jnp.einsum("ia,pmi->pma", mean, stresses)
        cells = self.nodes.pad(masks)
        out = 0.0
        for a, c in enumerate(self.corners):
            at = _window(cells, tuple(-o for o in c), self.node_shape)
            out = out + sum(rows[p, :, a, *([None] * self.d)] * at[p] for p in range(len(at)))
        return jnp.asarray(out)


class PhaseStiffness(eqx.Module):
    r"""The cell operator $u\mapsto\sum_e P_e^TK_{p(e)}P_eu$ applied as a stencil.

    With cell coefficient fields $\chi_r$ and element matrices $K_r$ (the phase indicators
    and each phase's $K_p$, or fewer terms: `factor_moduli`), the element matrix of cell
    $e$ is $\sum_r\chi_r(e)K_r$. The force at node $x$ sums, over the $2^d$ cells
    $x - c_a$ that share it, $\chi_r$ of that cell times row $a$ of $K_r$ applied to the
    cell's corner values $u(x - c_a + c_b)$. Every term is a slice of one padded copy of
    `u` and of the coefficients, so XLA fuses the sum into one loop over the nodes per
    component $j$ of `u` (a `fori_loop` over $j$): no gathered corner copies or
    Gauss-point arrays are formed. It costs $R(m2^d)^2$ multiply-adds per node; its graph,
    which sets the compile time, has $R4^d$ terms.

    - `nodes`: the nodes (`AbstractNodes`): padding and layout.
    - `corners`: the cell corners $c_a$, in the order of the matrices' corner axes.
    - `matrices`: $K_r$ `(R, m, 2^d, m, 2^d)` (`Voxels.element_matrices`).
    - `cells`: the coefficient fields, padded (`AbstractNodes.pad`) `(R, *shape + 2)`.

    **Example:**

    ```python
    mesh = Voxels((8, 8), Periodic(), 1)
    A = mesh.stiffness(masks, C)  # masks (P, 8, 8), C (P, 1, 2, 1, 2)
    A(u)  # == mesh.forces(stress(masks, C, mesh.gradient(u))) to round-off
    ```
    """

    nodes: AbstractNodes
    corners: tuple[tuple[int, ...], ...] = eqx.field(static=True)
    matrices: Array
    cells: Array

    def __call__(self, u: Array) -> Array:
        """Node field `(m, *nodes)` -> node forces `(m, *nodes)` (fixed nodes not zeroed)."""
        R, m = self.matrices.shape[:2]
        shape = self.nodes.node_shape
        column = (slice(None), *([None] * len(shape)))
        padded = self.nodes.pad(u)

        # A loop over the field's components j, unrolled over the rest and vectorised over
        # the force's components: one fused loop over the nodes per j, and a graph (compile
        # time) that grows like R 4^d, not R m 4^d (3D elasticity: 128 terms, not 384).
        def add_component(j, total):
            uj = jax.lax.dynamic_index_in_dim(padded, j, keepdims=False)
            Kj = jax.lax.dynamic_index_in_dim(self.matrices, j, axis=3, keepdims=False)
            # u_j at x + c_b - c_a: 3^d distinct slices, shared by every row.
            shifted: dict[tuple[int, ...], Array] = {
                o: _window(uj, o, shape) for o in itertools.product((-1, 0, 1), repeat=len(shape))
            }
            for a, ca in enumerate(self.corners):
                cell = _window(self.cells, tuple(-o for o in ca), shape)
                for r in range(R):
                    acc = sum(
                        Kj[r, :, a, b][column]
                        * shifted[tuple(y - x for x, y in zip(ca, cb, strict=True))]
                        for b, cb in enumerate(self.corners)
                    )
                    total = total + cell[r] * acc
            return total

        return jax.lax.fori_loop(0, m, add_component, jnp.zeros((m, *shape), padded.dtype))
