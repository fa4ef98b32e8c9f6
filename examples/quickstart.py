"""End-to-end example: write the damped oscillator in a heat bath, check it, simulate it.

Run: python examples/quickstart.py
"""

import sympy as sp

import generic_mm as gm

q, p, s = sp.symbols("q p s", real=True)
m, k, gamma, c, T0 = sp.symbols("m k gamma c T0", positive=True)
T = T0 * sp.exp(s / c)  # bath temperature, dU/ds
model = gm.GenericModel(
    name="damped oscillator in a heat bath",
    state=[q, p, s],
    params={m: 1.0, k: 1.0, gamma: 0.1, c: 1.0, T0: 1.0},
    energy=p**2 / (2 * m) + k * q**2 / 2 + c * T0 * sp.exp(s / c),
    entropy=s,
    poisson=sp.Matrix([[0, 1, 0], [-1, 0, 0], [0, 0, 0]]),
    friction=gamma
    * T
    * sp.Matrix([[0, 0, 0], [0, 1, -p / (m * T)], [0, -p / (m * T), (p / (m * T)) ** 2]]),
)

report = gm.check(model)
print(report)
print()
traj = gm.simulate(model, y0={q: 1.0, p: 0.0, s: 0.0}, t1=100.0)
print(traj.summary())
print(f"final E = {float(traj.energy[-1]):.12g}, final S = {float(traj.entropy[-1]):.12g}")
