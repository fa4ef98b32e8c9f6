"""Spreading an ensemble over the local JAX devices."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ._validate import is_traced


def batch_mesh() -> Mesh:
    """A one-axis mesh (`"batch"`) over the local devices.

    A plain `jax.sharding.Mesh` (auto axes): with JAX 0.10, a mesh from `jax.make_mesh`
    with its default explicit axes breaks `jit(vmap(diffeqsolve))`.
    """
    return Mesh(np.array(jax.local_devices()), ("batch",))


def shard_batch(y0, params: dict, axes, batch: int):
    """Pad the ensemble to a multiple of the device count and shard it along its first axis.

    Returns `(y0, params, pad)`; the caller drops the last `pad` members of the results.
    With one device, or when called under a JAX transformation, nothing is moved.
    """
    n_dev = len(jax.local_devices())
    traced = is_traced((y0, params))
    if n_dev == 1 or traced:
        return y0, params, 0
    pad = (-batch) % n_dev
    sharding = NamedSharding(batch_mesh(), PartitionSpec("batch"))

    def place(a, axis):
        if axis is None:
            return a
        if pad:
            a = jnp.concatenate([a, jnp.repeat(a[-1:], pad, axis=0)], axis=0)
        return jax.device_put(a, sharding)

    y_axis, p_axes = axes
    y0 = place(y0, y_axis)
    params = {k: place(v, p_axes[k]) for k, v in params.items()}
    return y0, params, pad
