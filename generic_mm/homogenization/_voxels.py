r"""Voxel finite elements: the RVE cell problem on a pixel/voxel grid.

Every pixel is a (bi/tri)linear element of unit size; a field with `m` components lives on
the nodes. The operator $u \mapsto \sum_e B_e^T C_e B_e u$ is applied without assembly:
corner values are gathered with rolls (periodic) or slices, gradients are formed at the
$2^d$ Gauss points, and forces are scattered back the same way. Conductivity is the case
$m = 1$, $C_{0i0j} = k_{ij}$; elasticity $m = d$ with the stiffness $C_{ijkl}$.

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


def _spatial_axes(d: int) -> tuple[int, ...]:
    return tuple(range(1, d + 1))


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
        axes = _spatial_axes(len(self.shape))
        return jnp.fft.irfftn(jnp.fft.rfftn(r, axes=axes) * self.inverse, s=self.shape, axes=axes)


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
