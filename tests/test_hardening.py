"""The checks cannot be fooled: one model protocol, the checked region is the region users
run, no false passes on subtle mutants, immutable models, honest trajectory bookkeeping."""

import math
import signal
import warnings

import numpy as np
import pytest
import sympy as sp

import generic_mm as gm
import generic_mm._sampling as sampling
from generic_mm._model import AbstractModel, CompiledParts
from generic_mm.models import atomic_chain, heat_conduction
from generic_mm.structured import Cells, Grid, Interaction, StructuredModel

q, p, s = sp.symbols("q p s", real=True)
m, k, gamma, c, T0 = sp.symbols("m k gamma c T0", positive=True)
T = T0 * sp.exp(s / c)
W = sp.Matrix([0, 1, -p / (m * T)])
DEFAULTS = {m: 1.0, k: 1.0, gamma: 0.1, c: 1.0, T0: 1.0}


def oscillator(factor=1, extra=None, *, params=None, domain=None):
    """The damped oscillator in a bath with its friction multiplied by `factor` (plus
    `extra`): consistent for factor >= 0."""
    friction = factor * gamma * T * W * W.T
    if extra is not None:
        friction = friction + extra
    return gm.GenericModel(
        state=[q, p, s],
        params=params or DEFAULTS,
        energy=p**2 / (2 * m) + k * q**2 / 2 + c * T0 * sp.exp(s / c),
        entropy=s,
        poisson=sp.Matrix([[0, 1, 0], [-1, 0, 0], [0, 0, 0]]),
        friction=friction,
        domain=domain,
    )


def psd(model) -> gm.CheckResult:
    return gm.check(model)["friction_positive_semidefinite"]


# -- one model protocol ------------------------------------------------------------------------
class Wrapped(AbstractModel):
    """A model kind the core has never seen: it only implements the interface."""

    def __init__(self, inner: gm.GenericModel):
        self.inner = inner
        self.name = f"wrapped {inner.name}"
        self._freeze()

    def compile_parts(self) -> CompiledParts:
        return self.inner.compile_parts()

    def consistency_report(self, options):
        return self.inner.consistency_report(options)

    def parameter_specs(self):
        return self.inner.parameter_specs()


def test_every_model_kind_goes_through_one_interface():
    assert issubclass(gm.GenericModel, AbstractModel)
    assert issubclass(StructuredModel, AbstractModel)
    model = Wrapped(oscillator())
    assert gm.check(model).ok
    traj = gm.simulate(model, {"q": 1.0, "p": 0.0, "s": 0.0}, 5.0, saveat=3)
    e = np.asarray(traj.energy)
    assert abs(e[-1] - e[0]) < 1e-7 * abs(e[0])
    with pytest.raises(gm.InputError, match="gamma is declared positive but got -0.1"):
        gm.simulate(model, {"q": 1.0, "p": 0.0, "s": 0.0}, 5.0, params={"gamma": -0.1})


# -- the checked region is the region users run --------------------------------------------------
def test_report_says_which_region_it_covered():
    report = gm.check(oscillator(1 + q**2), samples=64)
    assert report["friction_positive_semidefinite"].method == "symbolic"
    sampled = gm.check(oscillator(1 + 0.5 * sp.sin(q)), samples=64)  # a Float: not proved
    assert sampled["friction_positive_semidefinite"].method == "sampled"
    region = dict(line.split(" in ", 1) for line in sampled.region)
    assert region["q"] == "[-10, 10], default"
    assert region["gamma"] == "[0.01, 1] (log), default"
    assert "gamma" in sampled.defaulted and "q" in sampled.defaulted
    assert "defaulted, not declared" in str(sampled)
    declared = gm.check(
        oscillator(1 + 0.5 * sp.sin(q), domain={"q": (-1, 1), "gamma": (0.05, 0.2)}), samples=64
    )
    region = dict(line.split(" in ", 1) for line in declared.region)
    assert region["q"] == "[-1, 1], declared" and region["gamma"] == "[0.05, 0.2], declared"
    assert "q" not in declared.defaulted and "gamma" not in declared.defaulted


def test_parameter_overrides_are_validated_against_assumptions_and_domain():
    model = oscillator(domain={"k": (0.5, 2.0)})
    y0 = {"q": 1.0, "p": 0.0, "s": 0.0}
    with pytest.raises(
        gm.InputError, match=r"params\['gamma'\]: gamma is declared positive but got -0.1"
    ):
        gm.simulate(model, y0, 1.0, params={"gamma": -0.1})
    with pytest.raises(gm.InputError, match=r"declared positive but got -0.2"):
        gm.simulate(model, y0, 1.0, params={"gamma": np.array([0.1, -0.2, 0.3])})
    with pytest.raises(gm.InputError, match=r"3 is outside the declared domain \[0.5, 2\] of k"):
        gm.simulate(model, y0, 1.0, params={"k": 3.0})
    with pytest.raises(gm.InputError, match="declared positive"):
        gm.compile(model).with_params(gamma=-1.0)
    # Every condition of this model is proved symbolically (for all values the assumptions
    # allow): a value outside the sampled region needs no warning.
    assert all(r.method == "symbolic" for r in gm.check(model))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gm.simulate(model, y0, 1.0, params={"gamma": 5.0}, saveat=2)
        gm.simulate(model, y0, 1.0, params={"gamma": 0.5, "k": 1.5}, saveat=2)
    # Where a condition was judged by sampling, a value outside the sampled region is
    # unverified: it draws a warning.
    sampled = oscillator(gamma * (2 + sp.sin(q) * sp.cos(p)), domain={"k": (0.5, 2.0)})
    assert any(r.method == "sampled" for r in gm.check(sampled))
    with pytest.warns(UserWarning, match="outside .* the default region the consistency check"):
        gm.simulate(sampled, y0, 1.0, params={"gamma": 5.0}, saveat=2)
    with pytest.raises(gm.ModelError, match="must contain the parameter's value"):
        oscillator(domain={"k": (2.0, 3.0)})


def test_sign_free_parameter_is_checked_for_both_signs():
    g = sp.Symbol("g", real=True)  # no sign assumption: users may run it negative
    model = oscillator(g / gamma, params={**DEFAULTS, g: 0.1})
    result = psd(model)
    assert not result.passed and result.counterexample["g"] < 0
    positive = sp.Symbol("g", positive=True)
    assert psd(oscillator(positive / gamma, params={**DEFAULTS, positive: 0.1})).passed


# -- no false passes ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "factor, where",
    [
        # negative on about 1% of the sampled states (a band 0.1 wide in q)
        ((q - sp.Rational(3, 2)) ** 2 - sp.Rational(1, 400) + 0 * p, "q"),
        # negative only outside the old [-2, 2] box
        (4 - q, "q"),
        # negative only for parameter values that nothing but the assumption constrains
        (gamma - sp.Rational(1, 20), "gamma"),
    ],
)
def test_psd_breaks_in_small_regions_or_far_away_are_caught(factor, where):
    result = psd(oscillator(factor))
    assert not result.passed
    ce = result.counterexample
    assert float(factor.subs({q: ce["q"], p: ce["p"], gamma: ce["gamma"]})) < 0, where


def test_the_search_finds_what_no_sample_hits(monkeypatch):
    # A dissipation rate that turns negative only in a disk of radius 1e-3 (a fraction of
    # about 1e-7 of the sampled box): no sample lands there; the search from the samples
    # where the smallest eigenvalue is smallest walks into it.
    x, y = sp.symbols("x y", real=True)
    bad = (x - sp.Rational(7, 10)) ** 2 + (y - sp.Rational(3, 10)) ** 2 - sp.Rational(1, 10**6)

    def model(one=1):
        return gm.GenericModel([x, y], 0, x + y, None, sp.Matrix([[one, 0], [0, bad]]))

    found = psd(model())
    assert not found.passed
    assert math.hypot(found.counterexample["x"] - 0.7, found.counterexample["y"] - 0.3) < 1e-3
    monkeypatch.setattr(sampling, "SEARCH_STEPS", 0)
    assert psd(model(one=1 + 0 * x)).passed  # a fresh model: sampling alone misses it


@pytest.mark.parametrize(
    "build",
    [
        lambda: heat_conduction.model(16, k=-1.0),
        lambda: heat_conduction.model(8, k=np.array([1, 1, 1, -0.5, 1, 1, 1, 1.0])),
        lambda: heat_conduction.model(8, C=-1.0),
        lambda: heat_conduction.model(8, reservoirs={"x-": -1.0}),
        lambda: atomic_chain.model(8, gamma=-0.1),
    ],
    ids=["k<0", "one cell k<0", "C<0", "reservoir T<0", "chain gamma<0"],
)
def test_structured_parameter_values_must_honour_the_signs_the_proofs_assume(build):
    with pytest.raises(gm.ModelError, match="is declared positive but has the value -"):
        build()


def test_models_are_immutable_so_cached_reports_cannot_go_stale():
    model = oscillator()
    assert gm.check(model).ok
    with pytest.raises(TypeError):
        model.params[gamma] = -1.0
    with pytest.raises(AttributeError, match="immutable"):
        model.friction = -model.friction
    structured = heat_conduction.model(4)
    with pytest.raises(AttributeError, match="immutable"):
        structured.name = "other"
    with pytest.raises(TypeError):
        structured.cells[0].params[sp.Symbol("k", positive=True)] = -1.0
    with pytest.raises(ValueError, match="read-only"):
        heat_conduction.model(4, k=np.ones(4)).interactions[0].edges[0, 0] = 3


def test_unbounded_time_box_leaves_no_signal_handler_behind():
    before = signal.getsignal(signal.SIGALRM)
    report = gm.check(oscillator(1 + q**2), symbolic_timeout=float("inf"))
    assert report.ok
    assert signal.getsignal(signal.SIGALRM) is before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


# -- structured site blocks -------------------------------------------------------------------------
def _bodies(poisson, params=None):
    m1, m2, m3, sb = sp.symbols("m1 m2 m3 s", real=True)
    bodies = Cells(
        "body",
        [m1, m2, m3, sb],
        (m1**2 + m2**2 / 2 + m3**2 / 3) / 2 + sp.exp(sb),
        sb,
        shape=Grid((2, 2)),
        params=params,
    )
    edges = np.arange(4)[:, None]
    return StructuredModel(bodies, [Interaction("spin", "body", edges, poisson=poisson)])


def _skew(a):
    x, y, z = a.m1, a.m2, a.m3
    return sp.Matrix([[0, -z, y, 0], [z, 0, -x, 0], [-y, x, 0, 0], [0, 0, 0, 0]])


def test_rigid_body_site_block_on_a_grid_passes_jacobi():
    report = gm.check(_bodies(_skew))
    assert report.ok, report
    assert report["jacobi_identity"].method == "symbolic"


def test_site_block_violating_jacobi_is_rejected_with_its_residual():
    def broken(a):
        L = _skew(a)
        L[0, 1], L[1, 0] = -a.m3 * a.m1, a.m3 * a.m1
        return L

    result = gm.check(_bodies(broken))["jacobi_identity"]
    assert not result.passed and "Jacobi identity fails" in result.message
    assert result.residual > 1e-3


def test_site_jacobi_is_checked_at_the_values_each_cell_has_not_their_mean():
    # L = -skew(m) + (c - 1) N(m): a Poisson tensor only for c = 1. The cells have c = 0 and
    # c = 2, whose mean is 1: checking at the mean would pass.
    cpar = sp.Symbol("c", real=True)

    def block(a):
        N = sp.zeros(4, 4)
        N[0, 1], N[1, 0] = a.m1, -a.m1
        return _skew(a) + (a.c - 1) * N

    model = _bodies(block, params={cpar: np.array([0.0, 2.0, 0.0, 2.0])})
    result = gm.check(model)["jacobi_identity"]
    assert not result.passed, result
    assert result.counterexample["c_a"] != pytest.approx(1.0, abs=0.05)


# -- trajectory bookkeeping ----------------------------------------------------------------------
def test_entropy_produced_is_final_minus_initial_even_when_entropy_falls():
    model = oscillator(-1)  # anti-friction: S falls
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traj = gm.simulate(model, {"q": 1.0, "p": 0.0, "s": 0.0}, 5.0, check=False, saveat=11)
    S = np.asarray(traj.entropy)
    assert S[-1] < S[0] < S.max() + 1e-15
    assert float(traj.entropy_produced) == pytest.approx(S[-1] - S[0], rel=1e-12)
    assert float(traj.entropy_produced) < 0


def test_non_finite_initial_state_is_reported_before_solving():
    V = sp.Symbol("V", real=True)
    model = gm.GenericModel(
        state=[V, s],
        energy=sp.exp(s) - sp.log(V),
        entropy=s,
        poisson=None,
        friction=None,
        domain={"V": (0.1, 10.0)},
    )
    with pytest.raises(gm.InputError, match=r"E is not finite at the initial state \(V=-1"):
        gm.simulate(model, {"V": -1.0, "s": 0.0}, 1.0)
    with pytest.raises(gm.InputError, match="E is not finite .* ensemble member 1"):
        gm.simulate(model, np.array([[1.0, 0.0], [-1.0, 0.0]]), 1.0)


def test_conjugates_taken_positive_by_the_templates_are_verified_on_the_assembled_model():
    # e(s) = C T0 exp(s/C) has a positive derivative, so the templates take the conjugate
    # dE/ds as positive, but a bond energy -lam (s_a + s_b) lowers it by 2 lam: below
    # T0 exp(s/C) = 2 lam the "temperature" is negative and the exchange block is not PSD.
    from generic_mm.structured import entropic_exchange

    sc = sp.Symbol("s", real=True)
    C, T0_, lam, kappa = sp.symbols("C T0 lam kappa", positive=True)

    def chain(lam_value, domain=None, lam_domain=None):
        cells = Cells(
            "cell",
            [sc],
            C * T0_ * sp.exp(sc / C),
            sc,
            shape=8,
            params={C: 1.0, T0_: 1.0},
            domain=domain,
        )
        edges = np.stack([np.arange(7), np.arange(1, 8)], axis=1)
        bond = Interaction(
            "bond",
            ("cell", "cell"),
            edges,
            energy=lambda a, b: -lam * (a.s + b.s),
            friction=lambda a, b: entropic_exchange(kappa, a.dE("s"), b.dE("s")),
            params={lam: lam_value, kappa: 1.0},
            domain=lam_domain,
        )
        return StructuredModel(cells, [bond])

    result = gm.check(chain(0.2))["friction_positive_semidefinite"]
    assert not result.passed
    assert "conjugate dE/ds of cells 'cell' as positive" in result.message
    # where state and parameters keep T0 exp(s/C) >= 0.9 > 0.8 >= 2 lam it holds
    good = chain(0.2, domain={sc: (0.0, 2.0), T0_: (0.9, 1.1)}, lam_domain={lam: (0.1, 0.4)})
    assert gm.check(good).ok


def test_one_large_entry_cannot_hide_a_violation_elsewhere():
    x, y, z = sp.symbols("x y z", real=True)
    big = sp.Integer(10**9)
    indefinite = gm.GenericModel(
        [x, y, z], z, x**2 / 2 + y**2 / 2, None, sp.Matrix([[big, 0, 0], [0, -1, 0], [0, 0, 0]])
    )
    result = psd(indefinite)
    assert not result.passed and "negative eigenvalue -1 along (y: 1)" in result.message
    not_antisymmetric = gm.GenericModel(
        [x, y, z],
        (x**2 + y**2 + z**2) / 2,
        0 * x,
        sp.Matrix([[0, big, 0], [-big, 0, 1], [0, 0, 0]]),
        None,
    )
    assert [r.name for r in gm.check(not_antisymmetric).failed] == ["poisson_antisymmetric"]


def test_traced_parameter_overrides_that_break_assumptions_fail_at_run_time():
    import jax
    import jax.numpy as jnp

    model = oscillator()
    y0 = {"q": 1.0, "p": 0.0, "s": 0.0}

    def final_entropy(g):
        return gm.simulate(model, y0, 1.0, params={"gamma": g}, saveat=2).entropy[-1]

    assert float(jax.jit(final_entropy)(0.1)) > 0
    with pytest.raises(Exception, match="breaks its sign assumption or declared domain"):
        jax.jit(final_entropy)(-0.1)
    with pytest.raises(Exception, match="breaks its sign assumption or declared domain"):
        jax.vmap(final_entropy)(jnp.array([0.1, -0.1]))
    with pytest.raises(gm.InputError, match=r"params\['gamma'\]: expected a real number"):
        gm.simulate(model, y0, 1.0, params={"gamma": 1j})


def test_initial_states_must_honour_the_state_assumptions():
    xp, y = sp.Symbol("xp", positive=True), sp.Symbol("y", real=True)
    model = gm.GenericModel([xp, y], xp + y, y, None, xp * sp.Matrix([[1, -1], [-1, 1]]))
    assert gm.check(model).ok  # proved from xp > 0
    with pytest.raises(gm.InputError, match=r"y0\['xp'\]: xp is declared positive but got -1"):
        gm.simulate(model, {"xp": -1.0, "y": 0.0}, 1.0)
    with pytest.warns(UserWarning, match="starts outside"):
        gm.simulate(oscillator(domain={"s": (-1.0, 1.0)}), {"q": 1.0, "p": 0.0, "s": 3.0}, 0.1)


def test_free_conjugates_are_sampled_where_the_assembled_model_takes_them():
    # A conductance kappa (300 - Ta - Tb) turns negative above T = 150, which cells reach
    # (T = exp(s) up to e^10) but the default box for a positive conjugate (up to 100) does
    # not: the conjugates are sampled over the range the assembled model's temperatures take.
    from generic_mm.structured import entropic_exchange

    sc = sp.Symbol("s", real=True)
    C, T0_, lam, kappa = sp.symbols("C T0 lam kappa", positive=True)

    def model(top):
        cells = Cells(
            "cell",
            [sc],
            C * T0_ * sp.exp(sc / C),
            sc,
            shape=Grid(8),
            params={C: 1.0, T0_: 1.0},
            domain={sc: (0.0, top), C: (0.5, 2.0), T0_: (0.5, 2.0)},
        )
        bond = Interaction(
            "bond",
            ("cell", "cell"),
            Grid(8).edges,
            energy=lambda a, b: lam * (a.s - b.s) ** 2 / 2,
            friction=lambda a, b: entropic_exchange(
                kappa * (300 - a.dE("s") - b.dE("s")), a.dE("s"), b.dE("s")
            ),
            params={kappa: 1.0, lam: 0.01},
            domain={lam: (0.001, 0.01)},
        )
        return StructuredModel(cells, [bond])

    assert not psd(model(10.0)).passed
    # with s <= 1.5 every temperature stays below T0 exp(s/C) <= 2 e^3 ~ 40: it holds
    assert psd(model(1.5)).passed


def test_the_search_follows_a_prefactor_that_changes_sign():
    # M = f(x, y) C with C positive definite and f < 0 only in a disk of radius 1e-3: the
    # ratio of eigenvalues is sign(f) everywhere (flat), the search must follow f itself.
    x, y = sp.symbols("x y", real=True)
    bad = (x - sp.Rational(7, 10)) ** 2 + (y - sp.Rational(3, 10)) ** 2 - sp.Rational(1, 10**6)
    C = sp.Matrix([[2, 1], [1, 2]])
    for friction in (bad * C, {"structure": C, "disk": bad * C}):
        found = gm.check(gm.GenericModel([x, y], 0, x + y, None, friction))
        result = found["friction_positive_semidefinite"]
        assert not result.passed, friction
        assert float(bad.subs({x: result.counterexample["x"], y: result.counterexample["y"]})) < 0


def test_the_search_finds_a_sign_changing_prefactor_of_a_degenerate_process():
    # Heat conduction between two baths whose conductance is negative only in a disk of
    # radius 1e-3 in the (q, p) plane of a mechanical pair it does not act on: the search
    # must start on the complement of grad E (M's null direction) and follow the prefactor.
    q, p, s1, s2 = sp.symbols("q p s1 s2", real=True)
    T1, T2 = sp.exp(s1), sp.exp(s2)
    bad = (q - sp.Rational(3, 10)) ** 2 + (p - sp.Rational(7, 10)) ** 2 - sp.Rational(1, 10**6)
    cond = sp.zeros(4, 4)
    cond[2, 2], cond[2, 3], cond[3, 2], cond[3, 3] = T2 / T1, -1, -1, T1 / T2
    L = [[0, 1, 0, 0], [-1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    domain = {s1: (-2, 2), s2: (-2, 2)}
    for friction in ({"conduction": cond, "disk": bad * cond}, bad * cond):
        model = gm.GenericModel(
            [q, p, s1, s2], p**2 / 2 + q**2 / 2 + T1 + T2, s1 + s2, L, friction, domain=domain
        )
        result = gm.check(model)["friction_positive_semidefinite"]
        assert not result.passed, friction
        ce = result.counterexample
        assert float(bad.subs({q: ce["q"], p: ce["p"]})) < 0
