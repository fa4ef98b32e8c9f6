"""End-to-end example: write the damped oscillator in a heat bath, check it, simulate it.

From Python, what `generic-mm run damped_oscillator` does with the library's model file:
the same model, checked (the report is printed), integrated from the same initial state to
the same end time at the same 500 points, the final state, E and S printed, and the
trajectory written to `damped_oscillator.npz` in the same layout.

Run: python examples/quickstart.py
"""

import sympy as sp

import generic_mm as gm

q, p, s = sp.symbols("q p s", real=True)
m, k, gamma, c, T0 = sp.symbols("m k gamma c T0", positive=True)
T = T0 * sp.exp(s / c)  # bath temperature, dU/ds
w = sp.Matrix([0, 1, -p / (m * T)])  # w . grad E = 0, so M = gamma T w w^T conserves E
model = gm.GenericModel(
    name="Damped oscillator in a heat bath",
    state=[q, p, s],
    params={m: 1.0, k: 1.0, gamma: 0.1, c: 1.0, T0: 1.0},
    energy=p**2 / (2 * m) + k * q**2 / 2 + c * T0 * sp.exp(s / c),
    entropy=s,
    poisson=sp.Matrix([[0, 1, 0], [-1, 0, 0], [0, 0, 0]]),
    friction=gamma * T * w * w.T,
    domain={s: (-2.0, 2.0)},  # where the numeric checks sample
    observables={"T": T},  # evaluated along the trajectory: traj["T"]
)

report = gm.check(model)
print(report)
if not report.ok:
    raise SystemExit("not integrated, the model is inconsistent")
traj = gm.simulate(model, y0={q: 1.0, p: 0.0, s: 0.0}, t1=50.0, saveat=500)
print(traj.summary())
print(f"final bath temperature T = {float(traj['T'][-1]):.6g}")
traj.save("damped_oscillator.npz")
print("wrote damped_oscillator.npz")
