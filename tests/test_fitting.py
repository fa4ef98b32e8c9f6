"""Parameter fitting (`generic_mm.fit`): recovery statistics over many noisy data sets, the
covariance against an independent finite-difference computation, domains reached by
reparameterisation, a structured model's field from two numbers, several experiments in
one solve, failures that must not crash, input errors, and `generic-mm fit`."""

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import generic_mm as gm
from generic_mm import cli
from generic_mm.fitting import Experiment, Parameter, load_experiments
from generic_mm.models import LIBRARY, damped_oscillator
from generic_mm.structured import heat_conduction

SHIPPED = LIBRARY / "damped_oscillator_observations.csv"
TRUE = {"gamma": 0.3, "k": 2.0}
SIGMA = {"q": 0.02, "T": 0.005}
SEED = 0
Y0 = {"q": 1.0, "p": 0.0, "s": 0.0}
TIMES = np.arange(1, 41) * 0.25  # one design for several tests: one compiled fit


def observations(model=None) -> str:
    """The text of the shipped data file `damped_oscillator_observations.csv`: the library's
    damped oscillator at `TRUE`, two experiments (the second with another initial state, a
    known mass m = 2, and q missing for 5 < t <= 8), Gaussian noise `SIGMA` (seed `SEED`),
    T observed at every fourth time only."""
    model = gm.compile(model or gm.load_model(LIBRARY / "damped_oscillator.toml"))
    rng = np.random.default_rng(SEED)
    runs = [
        ("a", np.arange(1, 81) * 0.25, Y0, {}),
        ("b", np.arange(1, 41) * 0.5, {"q": 0.0, "p": 1.0, "s": 0.0}, {"m": 2.0}),
    ]
    lines = [
        "# Damped oscillator in a heat bath (generic_mm/models/damped_oscillator.toml), simulated",
        "# with gamma = 0.3, k = 2 and Gaussian noise of standard deviation 0.02 on q, 0.005 on T",
        f"# (seed {SEED}; tests/test_fitting.py regenerates it). Fit with:",
        "#   generic-mm fit damped_oscillator damped_oscillator_observations.csv --fit gamma,k "
        "--sigma q=0.02 --sigma T=0.005",
        "experiment,t,q,T,init:q,init:p,param:m",
    ]
    for name, ts, y0, params in runs:
        traj = gm.simulate(model, y0, t1=float(ts[-1]), saveat=ts, params={**TRUE, **params})
        q = np.asarray(traj["q"]) + SIGMA["q"] * rng.normal(size=ts.size)
        T = np.asarray(traj["T"]) + SIGMA["T"] * rng.normal(size=ts.size)
        for i, t in enumerate(ts):
            q_cell = "" if name == "b" and 5.0 < t <= 8.0 else f"{q[i]:.6g}"
            T_cell = f"{T[i]:.6g}" if (i + 1) % 4 == 0 else ""
            known = ",," if not params else f"{y0['q']:g},{y0['p']:g},{params['m']:g}"
            lines.append(f"{name},{t:g},{q_cell},{T_cell},{known}")
    return "\n".join(lines) + "\n"


def _table(text: str) -> np.ndarray:
    rows = [line.split(",")[1:4] for line in text.splitlines()[5:]]
    return np.array([[float(c) if c else np.nan for c in row] for row in rows])


def test_shipped_data_is_what_the_generator_writes(library_oscillator):
    shipped = SHIPPED.read_text()
    fresh = observations(library_oscillator)
    assert shipped.splitlines()[:5] == fresh.splitlines()[:5]
    np.testing.assert_allclose(_table(shipped), _table(fresh), rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ recovery statistics


@pytest.fixture(scope="module")
def oscillator():
    return gm.compile(damped_oscillator.model())


def test_recovery_statistics_over_many_seeds(oscillator):
    """150 data sets (q at 40 times up to t = 10) from gamma = 0.3, k = 2 with noise
    sigma = 0.05, each fitted from
    the model's gamma = 0.1, k = 1 (one jitted program for all). The fraction of fitted
    values within their reported 1- and 2-sigma bars matches 68.3 % and 95.4 % within 3.5
    binomial standard deviations; the mean is unbiased within 3.5 standard errors; the
    reported error matches the scatter of the values within 3.5 sampling errors of a
    standard deviation (1/sqrt(2(n-1)))."""
    n, sigma = 150, 0.05
    ts = TIMES
    truth = gm.simulate(oscillator, Y0, t1=ts[-1], saveat=ts, params=TRUE)
    rng = np.random.default_rng(7)
    values, errors = [], []
    for _ in range(n):
        q = np.asarray(truth["q"]) + sigma * rng.normal(size=ts.size)
        r = gm.fit(oscillator, Experiment(ts, {"q": q}, Y0), ["gamma", "k"], sigma=sigma)
        assert r.converged
        values.append([r.values["gamma"], r.values["k"]])
        errors.append([r.stderr["gamma"], r.stderr["k"]])
    values, errors = np.array(values), np.array(errors)
    z = (values - [TRUE["gamma"], TRUE["k"]]) / errors
    for width, nominal in ((1, 0.6827), (2, 0.9545)):
        within = np.mean(np.abs(z) < width, axis=0)
        tol = 3.5 * math.sqrt(nominal * (1 - nominal) / n)
        assert np.all(np.abs(within - nominal) < tol), (width, within)
    spread = values.std(axis=0, ddof=1)
    bias = values.mean(axis=0) - [TRUE["gamma"], TRUE["k"]]
    assert np.all(np.abs(bias) < 3.5 * spread / math.sqrt(n)), bias
    ratio = errors.mean(axis=0) / spread
    assert np.all(np.abs(ratio - 1) < 3.5 / math.sqrt(2 * (n - 1))), ratio


# --------------------------------------------- several experiments, and the covariance


@pytest.fixture(scope="module")
def library_oscillator():
    return gm.load_model(LIBRARY / "damped_oscillator.toml")


@pytest.fixture(scope="module")
def shipped_fit(library_oscillator):
    experiments = load_experiments(SHIPPED, library_oscillator)
    return experiments, gm.fit(library_oscillator, experiments, ["gamma", "k"], sigma=SIGMA)


def test_the_shipped_data_is_read_as_two_experiments(shipped_fit):
    (a, b), _ = shipped_fit
    assert (a.name, b.name) == ("a", "b")
    assert a.times.size == 80 and b.times.size == 40
    assert a.params == {} and b.params == {"m": 2.0}
    assert b.y0 == {"q": 0.0, "p": 1.0, "s": 0.0} and a.y0 == Y0  # a: the file's [initial]
    assert np.isnan(b.observed["q"][(b.times > 5) & (b.times <= 8)]).all()
    assert np.isfinite(a.observed["T"]).sum() == 20


def test_several_experiments_noise_free_recover_the_truth(library_oscillator, shipped_fit):
    """The shipped design (two initial states, a known mass in one, own sample times, NaN
    gaps, T at every fourth time) without noise: the one vmapped fit recovers the truth to
    the solver's accuracy; residuals and trajectories come per experiment."""
    experiments, _ = shipped_fit
    model = gm.compile(library_oscillator)
    exact = []
    for e in experiments:
        params = {**TRUE, **e.params}
        run = gm.simulate(model, e.y0, t1=e.times[-1], saveat=e.times, params=params)
        observed = {
            q: np.where(np.isnan(v), np.nan, np.asarray(run[q])) for q, v in e.observed.items()
        }
        exact.append(Experiment(e.times, observed, e.y0, e.params, name=e.name))
    r = gm.fit(library_oscillator, exact, ["gamma", "k"], sigma=SIGMA)
    assert r.converged
    for name, value in TRUE.items():
        assert r.values[name] == pytest.approx(value, rel=1e-6)
    assert [sorted(res) for res in r.residuals] == [["T", "q"], ["T", "q"]]
    for e, res, traj in zip(exact, r.residuals, r.trajectories):
        assert res["q"].shape == e.times.shape
        np.testing.assert_array_equal(np.isnan(res["q"]), np.isnan(e.observed["q"]))
        assert np.nanmax(np.abs(res["q"])) < 1e-6
        np.testing.assert_allclose(traj.ts, e.times)
        assert traj.params["m"] == (2.0 if e.name == "b" else 1.0)


def _residual_vector(model, experiments, gamma, k):
    """The weighted residuals computed independently (one `simulate` per experiment)."""
    out = []
    for e in experiments:
        params = {"gamma": gamma, "k": k, **e.params}
        run = gm.simulate(gm.compile(model), e.y0, e.times[-1], saveat=e.times, params=params)
        for q, obs in e.observed.items():
            seen = ~np.isnan(obs)
            out.append((obs[seen] - np.asarray(run[q])[seen]) / SIGMA[q])
    return np.concatenate(out)


def test_covariance_matches_finite_differences(library_oscillator, shipped_fit):
    """(J^T J)^-1 from a central-difference Jacobian of independently computed residuals;
    the chi^2 from those residuals; the fit is a minimum (J^T r = 0)."""
    experiments, r = shipped_fit
    g, k = r.values["gamma"], r.values["k"]
    res = _residual_vector(library_oscillator, experiments, g, k)
    assert r.cost == pytest.approx(float(res @ res), rel=1e-6)
    assert r.n_observations == res.size == 144
    cols = []
    for dg, dk in ((1, 0), (0, 1)):
        h = 1e-5 * (g if dg else k)
        plus = _residual_vector(library_oscillator, experiments, g + dg * h, k + dk * h)
        minus = _residual_vector(library_oscillator, experiments, g - dg * h, k - dk * h)
        cols.append((plus - minus) / (2 * h))
    jac = -np.stack(cols, axis=1)  # d(prediction)/d(value) = -d(residual)
    cov = np.linalg.inv(jac.T @ jac)
    np.testing.assert_allclose(r.covariance, cov, rtol=1e-4)
    assert r.stderr["k"] == pytest.approx(math.sqrt(cov[1, 1]), rel=1e-4)
    assert r.correlation[0, 1] == pytest.approx(
        cov[0, 1] / math.sqrt(cov[0, 0] * cov[1, 1]), abs=1e-4
    )
    assert abs(jac.T @ res).max() < 1e-3 * np.linalg.norm(jac, axis=0).max()
    for name, value in TRUE.items():  # and the shipped data sit near the truth
        assert abs(r.values[name] - value) < 3 * r.stderr[name]


# ------------------------------------------------------------------------- domains


@pytest.fixture(scope="module")
def bounded():
    """The damped oscillator with a declared domain for gamma, below the data's 0.3."""
    q, p, s = sp.symbols("q p s", real=True)
    m, k, gamma, c, T0 = sp.symbols("m k gamma c T0", positive=True)
    T = T0 * sp.exp(s / c)
    w = sp.Matrix([0, 1, -p / (m * T)])
    model = gm.GenericModel(
        name="bounded oscillator",
        state=[q, p, s],
        params={m: 1.0, k: 1.0, gamma: 0.1, c: 1.0, T0: 1.0},
        energy=p**2 / (2 * m) + k * q**2 / 2 + c * T0 * sp.exp(s / c),
        entropy=s,
        poisson=sp.Matrix([[0, 1, 0], [-1, 0, 0], [0, 0, 0]]),
        friction=gamma * T * w * w.T,
        domain={gamma: (0.01, 0.25), s: (-2.0, 2.0)},
    )
    ts = np.arange(1, 81) * 0.25
    truth = gm.simulate(damped_oscillator.model(**TRUE), Y0, t1=20.0, saveat=ts)
    q_obs = np.asarray(truth["q"]) + 0.02 * np.random.default_rng(3).normal(size=ts.size)
    return model, Experiment(ts, {"q": q_obs}, Y0)


def test_a_declared_domain_is_reached_by_reparameterisation_not_clipping(bounded):
    """The data's gamma (0.3) lies above the domain [0.01, 0.25]: the fit ends strictly
    inside, against the upper side, says so, and its value is never the bound itself."""
    model, data = bounded
    with pytest.warns(UserWarning, match=r"gamma ended against a bound of \(0.01, 0.25\)"):
        r = gm.fit(model, data, ["gamma", "k"], sigma=0.02)
    assert r.converged and 0.249 < r.values["gamma"] < 0.25
    assert r.at_bound == ("gamma",)
    assert r.values["k"] == pytest.approx(2.0, rel=0.05)


def test_a_derived_value_leaving_its_domain_rejects_the_step(bounded):
    """Through `derive` nothing reparameterises gamma: trial values beyond its domain are
    rejected like failed solves, and the search says it stopped short, never crashing."""
    model, data = bounded
    with pytest.warns(UserWarning, match="stopped where the cost could still fall"):
        r = gm.fit(
            model, data, {"g": 0.1, "k": 1.0}, derive=lambda v: {"gamma": v["g"]}, sigma=0.02
        )
    assert not r.converged
    assert 0.01 <= r.derived["gamma"] <= 0.25


def test_positive_parameters_stay_positive(oscillator):
    """Undamped data (gamma = 0, the closed form q = cos(sqrt(k) t)) with noise whose
    unconstrained optimum has gamma < 0: the fit converges with gamma > 0 against its
    bound, and says so."""
    q = np.cos(math.sqrt(2.0) * TIMES) + 0.02 * np.random.default_rng(6).normal(size=TIMES.size)
    data = Experiment(TIMES, {"q": q}, Y0)
    with pytest.warns(UserWarning, match=r"gamma ended against a bound of \(0, inf\)"):
        r = gm.fit(oscillator, data, {"gamma": 0.05, "k": 1.8}, sigma=0.02)
    assert r.converged and r.at_bound == ("gamma",)
    assert 0 < r.values["gamma"] < 1e-3
    assert r.values["k"] == pytest.approx(2.0, rel=1e-2)


# -------------------------------------------------------------------- failures, singular


def test_solver_failure_during_the_search_does_not_crash(oscillator):
    """The data need k = 2, whose solve to t = 10 takes about 182 steps (k = 1.5: 164);
    with max_steps = 172 every solve beyond k = 1.75 or so fails: those steps are rejected
    and the result says the search stopped short. A failure at the starting values is a
    SimulationError naming them."""
    truth = gm.simulate(oscillator, Y0, t1=TIMES[-1], saveat=TIMES, params={"k": 2.0})
    data = Experiment(TIMES, {"q": np.asarray(truth["q"])}, Y0)
    with pytest.warns(UserWarning, match="the solves fail beyond"):
        r = gm.fit(oscillator, data, {"k": 1.5}, sigma=0.01, max_steps=172)
    assert not r.converged and 1.5 < r.values["k"] < 1.9
    with pytest.raises(
        gm.SimulationError, match=r"fails at the starting values \(k=1.95 to start\)"
    ):
        gm.fit(oscillator, data, {"k": 1.95}, sigma=0.01, max_steps=172)


def test_unidentifiable_parameters_are_reported(oscillator):
    """With p(0) = 0 and only q observed, gamma, k and m scaled together leave q unchanged:
    J^T J is singular, and the three are reported with infinite standard errors."""
    ts = np.arange(1, 41) * 0.5
    truth = gm.simulate(oscillator, Y0, t1=20.0, saveat=ts, params=TRUE)
    data = Experiment(ts, {"q": np.asarray(truth["q"])}, Y0)
    with pytest.warns(UserWarning, match=r"do not determine gamma, k, m .*standard errors are inf"):
        r = gm.fit(oscillator, data, ["gamma", "k", "m"], sigma=0.01)
    assert r.unidentifiable == ("gamma", "k", "m")
    assert all(math.isinf(r.stderr[n]) for n in ("gamma", "k", "m"))
    assert np.isnan(r.correlation).all()
    assert r.values["k"] / r.values["m"] == pytest.approx(2.0, rel=1e-5)
    assert "unidentifiable" in r.summary()


def test_a_parameter_the_data_do_not_see_stays_put_and_is_unidentifiable(oscillator):
    """Observing only the conserved energy E = k q0^2/2 + c T0: gamma changes the
    predictions by round-off. It must neither wander off (a search scaled by its round-off
    column did: gamma 0.1 -> 26, reported "against a bound") nor count as determined, while
    k is fitted."""
    ts = np.arange(1, 21) * 0.5
    truth = gm.simulate(oscillator, Y0, t1=10.0, saveat=ts, params=TRUE)
    data = Experiment(ts, {"energy": np.asarray(truth.energy)}, Y0)
    with pytest.warns(UserWarning, match="do not determine gamma"):
        r = gm.fit(oscillator, data, ["gamma", "k"], sigma=1e-3)
    assert r.unidentifiable == ("gamma",) and r.at_bound == ()
    assert r.values["gamma"] == pytest.approx(0.1, rel=1e-6)  # where it started
    assert r.values["k"] == pytest.approx(TRUE["k"], rel=1e-6)
    assert math.isinf(r.stderr["gamma"]) and math.isfinite(r.stderr["k"])


# ------------------------------------------------------------------ a structured model


def test_structured_conductivity_field_from_two_numbers():
    """Heat conduction on 8 cells with k(x) = k0 (1 + a x): k0 and a recovered from noisy
    cell temperatures (dE/ds) within 4 standard errors; the derived field, the fitted
    model (a CompiledModel: a StructuredModel has no with_params) and its trajectory."""
    n = 8
    x = (np.arange(n) + 0.5) / n
    model = heat_conduction(n, k=np.ones(n))
    s0 = np.log(1.0 + np.sin(np.pi * x))  # T = T0 exp(s/C) = 1 + sin(pi x)
    ts = np.linspace(0.1, 3.0, 30)
    truth = gm.simulate(
        gm.compile(model).with_params(k=0.5 * (1 + 2 * x)), {"s": s0}, 3.0, saveat=ts
    )
    T = np.asarray(truth.grad_energy["s"])
    T_obs = T + 0.002 * np.random.default_rng(1).normal(size=T.shape)
    data = Experiment(ts, {"dE/ds": T_obs}, {"s": s0})

    def derive(v):
        return {"k": v["k0"] * (1 + v["a"] * x)}

    r = gm.fit(model, data, {"k0": Parameter(1.0, lower=0.0), "a": 0.0}, derive=derive, sigma=0.002)
    assert r.converged and r.n_observations == 30 * n
    for name, value in (("k0", 0.5), ("a", 2.0)):
        assert abs(r.values[name] - value) < 4 * r.stderr[name], (name, r.values, r.stderr)
    assert r.stderr["a"] < 0.05
    np.testing.assert_allclose(r.derived["k"], r.values["k0"] * (1 + r.values["a"] * x))
    assert isinstance(r.model, gm.CompiledModel)
    np.testing.assert_allclose(r.model.params["k"], r.derived["k"])
    (traj,) = r.trajectories
    assert np.asarray(traj.grad_energy["s"]).shape == T.shape
    assert r.residuals[0]["dE/ds"].shape == T.shape


# ------------------------------------------------------------------------ input errors


def _data():
    ts = np.arange(1, 5) * 0.5
    return Experiment(ts, {"q": np.cos(ts)}, Y0)


@pytest.mark.parametrize(
    "call, match",
    [
        (
            lambda m: gm.fit(m, _data(), ["gama"]),
            r"params\['gama'\]: not a parameter.*did you mean 'gamma'",
        ),
        (lambda m: gm.fit(m, _data(), ["k0"]), r"needs derive="),
        (
            lambda m: gm.fit(m, _data(), {"k": -1.0}),
            r"not strictly inside \(0, inf\).*declared positive",
        ),
        (
            lambda m: gm.fit(m, _data(), {"k": Parameter(3.0, upper=2.0)}),
            r"3 is not strictly inside \(0, 2\)",
        ),
        (lambda m: gm.fit(m, _data(), []), r"params: no parameter to fit"),
        (
            lambda m: gm.fit(m, _data(), ["k"], derive=lambda v: {"x": 1.0}),
            r"derive\(...\)\['x'\]: not a parameter",
        ),
        (lambda m: gm.fit(m, _data(), ["k"], derive=lambda v: {"k": 1.0}), r"k is also fitted"),
        (
            lambda m: gm.fit(m, _data(), ["k"], sigma={"T": 0.1}),
            r"sigma\['T'\]: not an observed quantity",
        ),
        (
            lambda m: gm.fit(m, [_data(), Experiment([1.0], {"x": [1.0]}, Y0)], ["k"]),
            r"data\[1\]: observed\['x'\]: not a state variable",
        ),
        (
            lambda m: gm.fit(m, Experiment([1.0], {"q": [[1.0, 2.0]]}, Y0), ["k"]),
            r"observed\['q'\]: expected shape \(1,\)",
        ),
        (
            lambda m: gm.fit(m, Experiment([1.0], {"q": [1.0]}, {"q": 1.0}), ["k"]),
            r"data\[0\]: y0: missing initial value\(s\) for 'p', 's'",
        ),
        (
            lambda m: gm.fit(m, Experiment([1.0], {"q": [1.0]}, Y0, params={"m": -2.0}), ["k"]),
            r"params\['m'\]: m is declared positive",
        ),
        (
            lambda m: gm.fit(m, Experiment([1.0], {"q": [1.0]}, Y0, params={"k": 2.0}), ["k"]),
            r"k is fitted; it cannot also be known",
        ),
        (
            lambda m: gm.fit(m, [_data(), Experiment([1.0], {"q": [1.0]}, Y0, sigma=0.1)], ["k"]),
            r"no noise level for 'q' \(observed in data\[0\]\)",
        ),
        (
            lambda m: gm.fit(m, _data(), ["k"], method="newton"),
            r"method: expected 'levenberg-marquardt'",
        ),
        (lambda m: gm.fit(m, "nowhere.csv", ["k"]), r"nowhere.csv: no such data file"),
        (
            lambda m: Experiment([1.0, 0.5], {"q": [1.0, 2.0]}, Y0),
            r"times must increase; times\[1\] = 0.5 follows 1",
        ),
        (
            lambda m: Experiment([1.0], {"q": [np.nan]}, Y0),
            r"observed\['q'\]: holds no observed value",
        ),
        (lambda m: Experiment([1.0], {"q": [1.0]}, Y0, t0=2.0), r"must start at or after t0 = 2"),
    ],
)
def test_bad_input_is_an_input_error_naming_it(oscillator, call, match):
    with pytest.raises(gm.InputError, match=match):
        call(oscillator)


# ------------------------------------------------------------------------- the CLI


def _cli(capsys, *argv):
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(autouse=True)
def _cache_home(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "xdg-cache"))


def test_cli_fits_the_shipped_data(capsys, tmp_path):
    out = tmp_path / "fit.json"
    argv = ["fit", "damped_oscillator", SHIPPED.name, "--fit", "gamma,k"]
    code, text, err = _cli(
        capsys, *argv, "--sigma", "q=0.02", "--sigma", "T=0.005", "--out", str(out)
    )
    assert code == 0, err
    assert "all conditions hold" in text and "gamma = " in text and f"wrote {out}" in text
    result = json.loads(out.read_text())
    assert result["data"] == str(SHIPPED) and result["converged"] is True
    assert result["labels"] == ["gamma", "k"] and result["observations"] == 144
    assert result["dof"] == 142 and result["weighted"] is True
    for name, value in TRUE.items():
        assert abs(result["values"][name] - value) < 3 * result["stderr"][name]
    corr = np.array(result["correlation"])
    assert corr.shape == (2, 2) and corr[0, 0] == 1.0 and -1 < corr[0, 1] < 1
    assert result["cost"] == pytest.approx(153.4, rel=0.01)
    assert [p.name for p in tmp_path.iterdir()] == ["fit.json"]  # written atomically


BROKEN = {
    "unknown column": ("t,x\n1,2\n", r"line 1, column 2 \('x'\): unknown column"),
    "non-number": ("t,q\n1,2\n2,abc\n", r"line 3, column 2 \('q'\): 'abc' is not a number"),
    "missing t": ("q,T\n1,2\n", r"line 1: no column 't'"),
    "empty": ("# nothing\n", r"no header line; the data file is empty"),
    "no rows": ("t,q\n", r"no data rows after the header"),
    "ragged": ("t,q\n1,2,3\n", r"line 2: 3 cells, but the header \(line 1\) has 2 columns"),
    "time order": ("t,q\n1,2\n1,3\n", r"line 3, column 1 \('t'\): t = 1 does not follow"),
    "not constant": (
        "t,q,param:m\n1,2,1\n2,3,2\n",
        r"line 3, column 3 \('param:m'\): 2 differs from 1 on line 2",
    ),
    "unknown init": (
        "t,q,init:z\n1,2,1\n",
        r"line 1, column 3 \('init:z'\): 'z' is not a state variable",
    ),
    "infinite": ("t,q\n1,1e999\n", r"line 2, column 2 \('q'\): '1e999' is beyond double precision"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_cli_broken_data_exits_2_naming_file_line_and_column(capsys, tmp_path, case):
    text, match = BROKEN[case]
    data = tmp_path / "data.csv"
    data.write_text(text)
    code, _, err = _cli(capsys, "fit", "damped_oscillator", str(data), "--fit", "k")
    assert code == 2
    assert err.startswith(f"generic-mm: error: {data}: ")
    assert len(re.findall(match, err)) == 1, err


@pytest.mark.parametrize(
    "argv, match",
    [
        (["--fit", "gama"], r"--fit 'gama': 'gama' is not a parameter .*did you mean 'gamma'"),
        (["--fit", "k", "--sigma", "q=-1"], r"--sigma 'q=-1': a noise level must be positive"),
        (["--fit", "k", "--sigma", "x=1"], r"--sigma x: not an observed quantity .*observed: T, q"),
        (["--fit", "k", "--out", "fit.txt"], r"--out fit.txt: the extension must be .json"),
        (["--fit", "k", "--solver", "Nope"], r"--solver 'Nope': unknown solver"),
    ],
)
def test_cli_bad_options_exit_2(capsys, argv, match, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = _cli(capsys, "fit", "damped_oscillator", str(SHIPPED), *argv)
    assert code == 2
    assert re.search(match, err), err
    assert not list(tmp_path.iterdir())


def test_cli_data_with_a_negative_known_mass_exits_2_naming_the_column(capsys, tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("t,q,param:m\n1,0.5,-2\n")
    code, _, err = _cli(capsys, "fit", "damped_oscillator", str(data), "--fit", "k")
    assert code == 2 and "column param:m: m is declared positive but got -2" in err, err


def test_docs_state_the_shipped_truth():
    page = (Path(__file__).parents[1] / "docs" / "fitting.md").read_text()
    assert "gamma = 0.3" in page and "k = 2" in page and f"seed {SEED}" in page


def test_an_exact_fit_without_sigma_converges(oscillator):
    """Noise-free data and no sigma: the estimated noise variance is round-off, and the
    stall test must not read a round-off fall of the cost as a stalled search."""
    truth = gm.simulate(oscillator, Y0, t1=TIMES[-1], saveat=TIMES, params=TRUE, rtol=1e-10)
    r = gm.fit(oscillator, Experiment(TIMES, {"q": np.asarray(truth["q"])}, Y0), ["gamma", "k"])
    assert r.converged, r.message
    assert r.values["gamma"] == pytest.approx(TRUE["gamma"], rel=1e-6)
    assert r.values["k"] == pytest.approx(TRUE["k"], rel=1e-6)
