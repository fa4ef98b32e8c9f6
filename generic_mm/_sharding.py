"""Spreading an ensemble over the local JAX devices."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ._errors import InputError
from ._validate import is_traced


def batch_mesh() -> Mesh:
    """A one-axis mesh (`"batch"`) over the local devices.

    A plain `jax.sharding.Mesh` (auto axes): with JAX 0.10, a mesh from `jax.make_mesh`
    with its default explicit axes breaks `jit(vmap(diffeqsolve))`.
    """
    return Mesh(np.array(jax.local_devices()), ("batch",))


def shard_batch(y0, params: dict, axes, batch: int, keys=None):
    """Pad the ensemble to a multiple of the device count and shard it along its first axis.

    `axes` is `(y0 axis, params axes, keys axis)`; `keys` are the PRNG keys of a stochastic
    ensemble (or `None`). Returns `(y0, params, keys, pad)`; the caller drops the last `pad`
    members of the results. With one device, or when called under a JAX transformation,
    nothing is moved.
    """
    n_dev = len(jax.local_devices())
    traced = is_traced((y0, params, keys))
    if n_dev == 1 or traced:
        return y0, params, keys, 0
    pad = (-batch) % n_dev
    sharding = NamedSharding(batch_mesh(), PartitionSpec("batch"))

    def place(a, axis):
        if axis is None:
            return a
        if pad:
            a = jnp.concatenate([a, jnp.repeat(a[-1:], pad, axis=0)], axis=0)
        return jax.device_put(a, sharding)

    y_axis, p_axes, k_axis = axes
    y0 = place(y0, y_axis)
    params = {k: place(v, p_axes[k]) for k, v in params.items()}
    if keys is not None:
        keys = place(keys, k_axis)
    return y0, params, keys, pad


def process_share(y0, params: dict, keys, axes, batch: int):
    """This process's members of an ensemble split across `jax.distributed` processes.

    Each of the `P` processes takes `ceil(batch / P)` consecutive members (the last process
    repeats the final member to fill its share). Every process must call `simulate` with
    the same arguments (the same `key`: it is split identically everywhere). Returns
    `(y0, params, keys, per)`; with one process, or under a JAX transformation (traced
    values cannot be gathered between processes: every process then computes the whole
    ensemble), the inputs and `batch`.
    """
    n_proc = jax.process_count()
    # The keys too: `jax.vmap` over the key of `simulate` traces only them.
    if n_proc == 1 or is_traced((y0, params, keys)):
        return y0, params, keys, batch
    per = -(-batch // n_proc)
    start = jax.process_index() * per
    idx = np.minimum(np.arange(start, start + per), batch - 1)
    y_axis, p_axes, k_axis = axes
    y0 = y0[idx] if y_axis == 0 else y0
    params = {k: (v[idx] if p_axes[k] == 0 else v) for k, v in params.items()}
    keys = keys[idx] if (keys is not None and k_axis == 0) else keys
    return y0, params, keys, per


def gather_processes(out, batch: int):
    """The whole ensemble on every process (after `process_share`): the shares gathered
    with `multihost_utils.process_allgather` and trimmed to `batch` members.

    Results that already hold `batch` members are returned as they are: the ensemble was
    not split (one process, or traced inputs), or it has one member, which every process
    computed.
    """
    if jax.process_count() == 1:
        return out
    leaves = jax.tree_util.tree_leaves(out)
    if leaves[0].shape[0] == batch:
        return out
    if is_traced(out):
        raise InputError(
            f"simulate: this process holds {leaves[0].shape[0]} of the {batch} ensemble members "
            f"(split across {jax.process_count()} jax.distributed processes), traced by a JAX "
            "transformation whose inputs were not traced; traced shares cannot be gathered "
            "between processes. Pass the transformed value as y0, params or key."
        )
    from jax.experimental import multihost_utils

    gathered = multihost_utils.process_allgather(out, tiled=True)
    return jax.tree_util.tree_map(lambda a: jnp.asarray(a[:batch]), gathered)
