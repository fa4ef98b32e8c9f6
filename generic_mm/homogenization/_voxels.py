r"""Voxel finite elements: the RVE cell problem on a pixel/voxel grid.

Every pixel is a (bi/tri)linear element of unit size; a field with `m` components lives on
the nodes. The operator $u \mapsto \sum_e B_e^T C_e B_e u$ is applied without assembly:
corner values are gathered with rolls (periodic) or slices, gradients are formed at the
$2^d$ Gauss points, and forces are scattered back the same way. Conductivity is the case
$m = 1$, $C_{0i0j} = k_{ij}$; elasticity $m = d$ with the stiffness $C_{ijkl}$.

Boundary conditions on the fluctuation $\tilde u$ of $u = Ex + \tilde u$:
periodic ($\tilde u$ periodic, nodes wrap), Dirichlet (affine: $\tilde u = 0$ on the
boundary nodes) and Neumann (uniform flux/traction $\Sigma\cdot n$, $E = 0$, all nodes free).
The reference preconditioner is the inverse of the unit-coefficient Laplacian with the same
boundary conditions, per component: diagonal in Fourier space (periodic) or in the
tensor-product eigenbasis of the 1D stiffness and mass matrices (Dirichlet, Neumann).
"""

from __future__ import annotations

import itertools
import math

import jax.numpy as jnp
import numpy as np
import scipy.linalg

GAUSS = (0.5 - 0.5 / math.sqrt(3), 0.5 + 0.5 / math.sqrt(3))


class Voxels:
    """Static geometry of a voxel mesh: gather/scatter, Gauss-point gradients, preconditioner."""

    def __init__(self, shape: tuple[int, ...], bc: str, components: int):
        self.shape = tuple(shape)
        self.d = len(shape)
        self.bc = bc
        self.m = components
        self.periodic = bc == "periodic"
        self.node_shape = self.shape if self.periodic else tuple(n + 1 for n in shape)
        self.corners = list(itertools.product((0, 1), repeat=self.d))
        points = list(itertools.product(GAUSS, repeat=self.d))
        G = np.zeros((len(points), self.d, len(self.corners)))
        for q, x in enumerate(points):
            for a, c in enumerate(self.corners):
                for i in range(self.d):
                    g = 1.0
                    for j in range(self.d):
                        if j == i:
                            g *= 1.0 if c[j] else -1.0
                        else:
                            g *= x[j] if c[j] else 1 - x[j]
                    G[q, i, a] = g
        self.G = jnp.asarray(G)
        self.weight = 1.0 / len(points)
        mask = np.ones(self.node_shape)
        if bc == "dirichlet":
            mask[...] = 0
            mask[tuple(slice(1, -1) for _ in range(self.d))] = 1
        self.mask = jnp.asarray(mask)
        self._setup_preconditioner()

    # -- gather / scatter -------------------------------------------------------------------
    def gather(self, u):
        """Node field `(m, *nodes)` -> corner values `(m, 2^d, *shape)`."""
        axes = tuple(range(1, self.d + 1))
        out = []
        for c in self.corners:
            if self.periodic:
                out.append(jnp.roll(u, tuple(-o for o in c), axes))
            else:
                out.append(
                    u[
                        (slice(None),)
                        + tuple(slice(o, o + n) for o, n in zip(c, self.shape, strict=True))
                    ]
                )
        return jnp.stack(out, axis=1)

    def scatter(self, f):
        """Corner forces `(m, 2^d, *shape)` -> node forces `(m, *nodes)`."""
        axes = tuple(range(1, self.d + 1))
        total = 0.0
        for a, c in enumerate(self.corners):
            fa = f[:, a]
            if self.periodic:
                total = total + jnp.roll(fa, c, axes)
            else:
                total = total + jnp.pad(fa, [(0, 0)] + [(o, 1 - o) for o in c])
        return total

    def gradient(self, u):
        """Node field -> gradients at the Gauss points `(Q, m, d, *shape)`."""
        return jnp.einsum("qia,ma...->qmi...", self.G, self.gather(u))

    def forces(self, stress):
        """Stresses at the Gauss points `(Q, m, d, *shape)` -> node forces."""
        return self.scatter(self.weight * jnp.einsum("qia,qmi...->ma...", self.G, stress))

    # -- reference preconditioner -----------------------------------------------------------
    def _setup_preconditioner(self):
        if self.periodic:
            symbols = []
            for n in self.shape:
                t = 2 * np.pi * np.arange(n) / n
                symbols.append((2 - 2 * np.cos(t), (4 + 2 * np.cos(t)) / 6))
            symbols[-1] = tuple(s[: self.shape[-1] // 2 + 1] for s in symbols[-1])
            D = 0.0
            for i in range(self.d):
                term = 1.0
                for j, (k1, m1) in enumerate(symbols):
                    v = k1 if j == i else m1
                    term = term * v.reshape([-1 if a == j else 1 for a in range(self.d)])
                D = D + term
            D = np.asarray(D)
            inv = np.where(D > 1e-12 * D.max(), 1.0 / np.where(D > 0, D, 1.0), 0.0)
            self._inv = jnp.asarray(inv)
            return
        self._bases, lams = [], []
        for n in self.shape:
            k = n + 1
            K = 2 * np.eye(k) - np.eye(k, k=1) - np.eye(k, k=-1)
            M = (4 * np.eye(k) + np.eye(k, k=1) + np.eye(k, k=-1)) / 6
            K[0, 0] = K[-1, -1] = 1
            M[0, 0] = M[-1, -1] = 2 / 6
            if self.bc == "dirichlet":
                K, M = K[1:-1, 1:-1], M[1:-1, 1:-1]
            lam, V = scipy.linalg.eigh(K, M)
            lam[np.abs(lam) < 1e-12] = 0.0
            self._bases.append(jnp.asarray(V))
            lams.append(lam)
        D = sum(
            lam.reshape([-1 if a == i else 1 for a in range(self.d)]) for i, lam in enumerate(lams)
        )
        D = np.asarray(D)
        self._inv = jnp.asarray(np.where(D > 0, 1.0 / np.where(D > 0, D, 1.0), 0.0))

    def precondition(self, r):
        """Apply the inverse unit Laplacian (same boundary conditions) to every component."""
        axes = tuple(range(1, self.d + 1))
        if self.periodic:
            return jnp.fft.irfftn(jnp.fft.rfftn(r, axes=axes) * self._inv, s=self.shape, axes=axes)
        inner = r[(slice(None),) + (slice(1, -1),) * self.d] if self.bc == "dirichlet" else r
        x = inner
        for i, V in enumerate(self._bases):
            x = jnp.moveaxis(jnp.tensordot(x, V, axes=([i + 1], [0])), -1, i + 1)
        x = x * self._inv
        for i, V in enumerate(self._bases):
            x = jnp.moveaxis(jnp.tensordot(x, V, axes=([i + 1], [1])), -1, i + 1)
        if self.bc == "dirichlet":
            x = jnp.pad(x, [(0, 0)] + [(1, 1)] * self.d)
        return x
