"""Learning the two gas containers: full GENERIC model, partly known model, neural ODE.

Training trajectories come from the closed-form model (`generic_mm.models.gas_containers`)
at initial states drawn from the published box; the three learners are trained on the same rate samples (fourth-order
differences of the same trajectories, `Rates.from_trajectories`), with the same optimizer,
batch and number of steps:

(a) full: learned E (MLP of the state), S (linear plus MLP of the Casimir coordinates of a
    learned constant Poisson operator, `CasimirPoisson`), M (`ProjectedFriction`, rank 2);
(b) partly known: E, S and L known (mechanics and the gases' equations of state), the heat
    exchange M learned (`ProjectedFriction` on S1, S2, rank 1, of the log temperatures);
(c) neural ODE: a plain MLP vector field, no structure.

For held-out initial states it reports the trajectory error over the training horizon and
over 10x longer, the drift of each model's own energy and the largest decrease of its own
entropy (the neural ODE has neither: it is measured with the true E and S), the same with
the true E and S along every prediction, and the training time.

    python benchmarks/bench_learning.py [--steps 2000] [--train 32] [--test 16]
"""

from __future__ import annotations

import argparse
import platform
import time

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

import generic_mm as gm
from generic_mm.fitting import (
    CasimirPoisson,
    LearnedModel,
    ProjectedFriction,
    Rates,
    mlp,
    train,
)
from generic_mm.models import gas_containers as gas

NAMES = ("q", "p", "S1", "S2")


BOXES = {
    # around the published benchmark's initial state (1, 0, 2, 2): the piston swings, the
    # gases exchange heat
    "near": {"q": (0.7, 1.3), "p": (-0.5, 0.5), "S1": (1.5, 2.5), "S2": (1.5, 2.5)},
    # the wide box (gas.SAMPLING): the piston bounces off strongly compressed gases
    "wide": gas.SAMPLING,
}
BOX = BOXES["near"]


def initial_states(count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    lo, hi = (np.array([BOX[v][i] for v in NAMES]) for i in (0, 1))
    return rng.uniform(lo, hi, (count, 4))


def domain_of(ys: np.ndarray, pad: float = 0.05) -> dict[str, tuple[float, float]]:
    """The data's range, widened by `pad` of its span (the piston stays inside the box:
    0 < q < 2)."""
    lo, hi = ys.reshape(-1, 4).min(axis=0), ys.reshape(-1, 4).max(axis=0)
    span = hi - lo
    lo, hi = lo - pad * span, hi + pad * span
    lo[0], hi[0] = max(lo[0], 0.01), min(hi[0], 1.99)
    return {v: (float(a), float(b)) for v, a, b in zip(NAMES, lo, hi)}


def full_model(domain, key, mu, sd, width=32) -> LearnedModel:
    """Learned E (MLP of the state), S (a linear function plus an MLP, starting small, of
    the Casimir coordinates of the learned constant Poisson operator; the linear part starts
    at 1/2, positive temperatures) and M (rank 2 on all variables); every network sees its inputs standardised
    by the data's mean `mu` and spread `sd`."""
    kE, kS, kM = jax.random.split(key, 3)
    casimir = CasimirPoisson("U", pairs=1)
    mu, sd = jnp.asarray(mu), jnp.asarray(sd)

    def z(x):
        return (x - mu) / sd

    def entropy(x, p):
        c = casimir.casimirs(x, p)
        return p["w"] @ c + p["S"]((c - mu[2:]) / sd[2:])

    return LearnedModel(
        "gas containers, fully learned",
        NAMES,
        energy=lambda x, p: p["E"](z(x)),
        entropy=entropy,
        poisson=casimir,
        friction={"heat": ProjectedFriction("M", rank=2)},
        params={
            "E": mlp(4, "scalar", width=width, key=kE),
            "S": mlp(2, "scalar", width=width, key=kS, scale=0.01),
            "w": np.full(2, 0.5),  # positive temperatures: S grows with the thermal coordinates
            "M": mlp(4, 8, width=width, key=kM, scale=0.1),
            "U": np.eye(4),
        },
        domain=domain,
        features=lambda x, p: z(x),
    )


def log_temperatures(x, p):
    """The gases' log temperatures from the known equations of state: the learned heat
    exchange's input."""
    return jnp.log(gas.temperatures(x))


def partly_known(base, domain, key) -> LearnedModel:
    return LearnedModel.from_model(
        base,
        name="gas containers, heat exchange learned",
        friction={"heat": ProjectedFriction("D", on=("S1", "S2"), rank=1)},
        params={"D": mlp(2, 2, width=32, key=key, scale=0.1)},
        domain=domain,
        features=log_temperatures,
    )


class NeuralODE(eqx.Module):
    """An MLP vector field on standardised states, its output scaled by the rates' spread."""

    net: eqx.nn.MLP
    mu: jax.Array
    sd: jax.Array
    rate_sd: jax.Array

    def __call__(self, t, y, args):
        return self.rate_sd * self.net((y - self.mu) / self.sd)


def solve_node(node, y0, ts, rtol=1e-6, atol=1e-8, max_steps=100_000):
    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(node),
        diffrax.Tsit5(),
        ts[0],
        ts[-1],
        None,
        y0,
        saveat=diffrax.SaveAt(ts=ts),
        stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol),
        max_steps=max_steps,
        throw=False,
    )
    return sol.ys


def train_node(data: Rates, mu, sd, *, batch, steps, optimizer, seed, key):
    """The baseline, trained exactly like `generic_mm.fitting.train` trains on rates (same
    samples, scaling, batches, optimizer and steps) but as an unstructured vector field."""
    rate_sd = np.asarray(data.rates).std(axis=0)
    node = NeuralODE(
        mlp(4, 4, width=32, key=key), jnp.asarray(mu), jnp.asarray(sd), jnp.asarray(rate_sd)
    )
    x, target = jnp.asarray(data.states), jnp.asarray(data.rates)
    scale = jnp.asarray(np.asarray(data.rates).std(axis=0))
    opt = optax.apply_if_finite(optimizer, 20)
    diff, static = eqx.partition(node, eqx.is_inexact_array)
    state = opt.init(diff)
    total = x.shape[0]

    def loss_fn(d, x, target):
        f = eqx.combine(d, static)
        pred = jax.vmap(lambda y: f(0.0, y, None))(x)
        return jnp.mean(((pred - target) / scale) ** 2)

    @eqx.filter_jit
    def step(d, state, key):
        pick = jax.random.choice(key, total, (batch,), replace=False)
        loss, grads = eqx.filter_value_and_grad(loss_fn)(d, x[pick], target[pick])
        updates, state = opt.update(grads, state, d)
        return eqx.apply_updates(d, updates), state, loss

    key = jax.random.key(seed)
    losses = []
    start = time.perf_counter()
    for _ in range(steps):
        key, sub = jax.random.split(key)
        diff, state, loss = step(diff, state, sub)
        losses.append(float(loss))
    return eqx.combine(diff, static), np.array(losses), time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--train", type=int, default=32, help="training trajectories")
    ap.add_argument("--test", type=int, default=16, help="held-out trajectories")
    ap.add_argument("--horizon", type=float, default=8.0)
    ap.add_argument("--dt", type=float, default=0.02, help="sampling interval of the data")
    ap.add_argument("--batch", type=int, default=256, help="rate samples per Adam step")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--box", choices=sorted(BOXES), default="near", help="initial states")
    args = ap.parse_args()
    global BOX
    BOX = BOXES[args.box]

    base = gas.model()
    compiled = gm.compile(base)
    ts = np.linspace(0.0, args.horizon, int(round(args.horizon / args.dt)) + 1)
    ys = np.asarray(
        gm.simulate(
            base, initial_states(args.train, args.seed), ts[-1], saveat=ts, rtol=1e-10, atol=1e-12
        ).ys
    )
    domain = domain_of(ys)
    mu, sd = ys.reshape(-1, 4).mean(axis=0), ys.reshape(-1, 4).std(axis=0)
    long_ts = np.linspace(0.0, 10 * args.horizon, 10 * (ts.size - 1) + 1)
    test_y0 = initial_states(args.test, args.seed + 1000)
    truth = np.asarray(
        gm.simulate(base, test_y0, long_ts[-1], saveat=long_ts, rtol=1e-10, atol=1e-12).ys
    )
    scale = ys.reshape(-1, 4).std(axis=0)
    short = ts.size
    schedule = optax.cosine_decay_schedule(1e-2, args.steps, alpha=0.01)

    def optimizer():
        return optax.adam(schedule)

    E_true = jax.jit(jax.vmap(jax.vmap(compiled.energy)))
    S_true = jax.jit(jax.vmap(jax.vmap(compiled.entropy)))

    def errors(pred):
        """RMS over runs, variables (each scaled by its spread in the data) and saved times up
        to T and up to 10 T; a run that left the physical states (non-finite) counts as
        the largest error of a finite run."""
        sq = ((pred - truth) / scale) ** 2
        finite = np.isfinite(sq).all(axis=(1, 2))
        worst = np.nanmax(np.where(np.isfinite(sq), sq, np.nan))
        sq = np.where(np.isfinite(sq), sq, worst)
        per_t = np.mean(sq, axis=(0, 2))
        return (
            float(np.sqrt(np.mean(per_t[:short]))),
            float(np.sqrt(np.mean(per_t))),
            int((~finite).sum()),
        )

    def drift_and_decrease(E, S):
        """The largest relative drift of E from its initial value and the largest decrease of S
        between saved times, over the runs that stayed finite."""
        E, S = np.asarray(E), np.asarray(S)
        ok = np.isfinite(E).all(axis=1) & np.isfinite(S).all(axis=1)
        E, S = E[ok], S[ok]
        drift = float(np.max(np.abs(E - E[:, :1]) / np.abs(E[:, :1])))
        decrease = float(max(0.0, np.max(-np.diff(S, axis=1))))
        return drift, decrease

    rows = []
    key = jax.random.key(args.seed)
    k_full, k_part, k_node = jax.random.split(key, 3)
    data = Rates.from_trajectories(ts, ys)  # the same rate samples for all three learners
    for label, learner in (
        ("(a) full GENERIC (learned E, S, L, M)", full_model(domain, k_full, mu, sd)),
        ("(b) partly known (heat exchange learned)", partly_known(base, domain, k_part)),
    ):
        result = train(
            learner, data, batch=args.batch, steps=args.steps, optimizer=optimizer(), seed=args.seed
        )
        traj = gm.simulate(result.model, test_y0, long_ts[-1], saveat=long_ts, rtol=1e-10)
        pred = np.asarray(traj.ys)
        own = drift_and_decrease(traj.energy, traj.entropy)
        true = drift_and_decrease(E_true(jnp.asarray(pred)), S_true(jnp.asarray(pred)))
        rows.append(
            (label, *errors(pred), *own, *true, result.seconds, result.losses[-1], result.report.ok)
        )
        print(result, flush=True)
    node, losses, seconds = train_node(
        data,
        mu,
        sd,
        batch=args.batch,
        steps=args.steps,
        optimizer=optimizer(),
        seed=args.seed,
        key=k_node,
    )
    pred = np.asarray(
        jax.vmap(lambda y0: solve_node(node, y0, jnp.asarray(long_ts), rtol=1e-10, atol=1e-12))(
            jnp.asarray(test_y0)
        )
    )
    true = drift_and_decrease(E_true(jnp.asarray(pred)), S_true(jnp.asarray(pred)))
    rows.append(
        (
            "(c) neural ODE (MLP vector field)",
            *errors(pred),
            float("nan"),
            float("nan"),
            *true,
            seconds,
            losses[-1],
            None,
        )
    )

    print(
        f"\n{platform.processor() or platform.machine()}, JAX {jax.__version__}, {jax.devices()[0].platform}; "
        f"{args.train} training trajectories on [0, {args.horizon:g}] (dt {args.dt:g}), rates by fourth-order "
        f"differences, batch {args.batch}, {args.steps} Adam steps; {args.test} held-out initial states"
    )
    print(
        "| model | error, t <= T | error, t <= 10 T | runs lost | own E drift | own S decrease | true E drift | true S decrease | training s | final loss | checks |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|"
    )
    for label, e1, e10, lost, d_own, s_own, d_true, s_true, sec, loss, ok in rows:
        checks = "n/a" if ok is None else ("pass" if ok else "FAIL")
        own_d = "n/a" if np.isnan(d_own) else f"{d_own:.1e}"
        own_s = "n/a" if np.isnan(s_own) else f"{s_own:.1e}"
        print(
            f"| {label} | {e1:.2e} | {e10:.2e} | {lost} | {own_d} | {own_s} | {d_true:.1e} | {s_true:.1e} | {sec:.0f} | {loss:.1e} | {checks} |"
        )
    base_long = rows[2][2]
    for label, _, e10, *_ in rows[:2]:
        ratio = base_long / e10
        words = f"{ratio:.1f}x smaller" if ratio >= 1 else f"{1 / ratio:.1f}x larger"
        print(f"{label}: error over 10 T {words} than the neural ODE's")


if __name__ == "__main__":
    main()
