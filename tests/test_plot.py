"""`gm.plot`: titles, labels and units read back from the figure; the panel rule; stacked
entropy production; legends outside the data; fields and ensembles; atomic saving."""

import dataclasses
import math

import matplotlib
import numpy as np
import pytest
import sympy as sp
from matplotlib.figure import Figure

import generic_mm as gm
from generic_mm._plot import SHARE, _Curve, _group, plot
from generic_mm.structured import Cells, Grid, Interaction, StructuredModel, entropic_exchange

NAME = "Damped oscillator between two baths"
q, p, s1, s2 = sp.symbols("q p s1 s2", real=True)
k, gamma, kappa, C, T0 = sp.symbols("k gamma kappa C T0", positive=True)


def _oscillator() -> gm.GenericModel:
    """A mass on a spring whose friction heats bath 1, which conducts to bath 2: the
    momenta vary by order 1, the entropies by a few hundredths (heat 1/2 at T near 10)."""
    T1, T2 = T0 * sp.exp(s1 / C), T0 * sp.exp(s2 / C)
    z = sp.zeros(4, 4)
    viscous, conduction = z.copy(), z.copy()
    viscous[1:3, 1:3] = gamma * T1 * sp.Matrix([[1, -p / T1], [-p / T1, p**2 / T1**2]])
    conduction[2:4, 2:4] = entropic_exchange(kappa, T1, T2)
    return gm.GenericModel(
        name=NAME,
        state=[q, p, s1, s2],
        energy=p**2 / 2 + k * q**2 / 2 + C * T1 + C * T2,
        entropy=s1 + s2,
        poisson=[[0, 1, 0, 0], [-1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]],
        friction={"viscosity": viscous, "conduction": conduction},
        params={k: 1.0, gamma: 0.3, kappa: 0.2, C: 10.0, T0: 10.0},
        observables={"T1": T1, "T2": T2},
        units={"q": "m", "p": "kg m/s", "s1": "J/K", "s2": "J/K", "T1": "K", "T2": "K"},
    )


@pytest.fixture(scope="module")
def flat():
    y0 = {"q": 1.0, "p": 0.0, "s1": 0.0, "s2": 0.0}
    return gm.simulate(_oscillator(), y0, t1=10.0, saveat=81)


@pytest.fixture(scope="module")
def ensemble():
    y0 = {"q": 1.0, "p": 0.0, "s1": 0.0, "s2": 0.0}
    return gm.simulate(_oscillator(), y0, t1=10.0, saveat=41, params={"gamma": [0.1, 0.3, 1.0]})


@pytest.fixture(scope="module")
def structured():
    s = sp.Symbol("s", real=True)
    c, kk = sp.symbols("c kk", positive=True)
    grid = Grid((6,))
    cells = Cells(
        "rod", [s], c * sp.exp(s / c), s, shape=grid, params={c: 1.0},
        observables={"T": sp.exp(s / c)}, units={"s": "J/K", "T": "K"},
    )  # fmt: skip
    conduction = Interaction(
        "conduction", ("rod", "rod"), grid.edges, params={kk: 1.0},
        friction=lambda a, b: entropic_exchange(kk, a.dE("s"), b.dE("s")),
    )  # fmt: skip
    model = StructuredModel(cells, [conduction], name="rod")
    s0 = np.log(np.linspace(1.0, 2.0, 6))
    return gm.simulate(model, {"s": s0}, t1=2.0, saveat=21)


def _y(line) -> np.ndarray:
    return np.asarray(line.get_ydata(), dtype=float)


def _labels(ax) -> list[str]:
    return [str(line.get_label()) for line in ax.get_lines()]


def _axes_with(fig: Figure, label: str):
    (ax,) = [ax for ax in fig.axes if label in _labels(ax)]
    return ax


def _legend_texts(ax) -> list[str]:
    legend = ax.get_legend()
    return [] if legend is None else [t.get_text() for t in legend.get_texts()]


# -- titles, labels, units ------------------------------------------------------------------------
def test_title_labels_and_units_read_back(flat):
    fig = plot(flat)
    assert fig.get_suptitle() == NAME
    temps = _axes_with(fig, "T1 [K]")
    assert temps.get_ylabel() == "T1, T2 [K]"
    assert _legend_texts(temps) == ["T1 [K]", "T2 [K]"]
    # one axis, one unit: positions and momenta get panels of their own
    assert _axes_with(fig, "p [kg m/s]").get_ylabel() == "p [kg m/s]"
    assert fig.axes[-1].get_xlabel() == "t"
    assert [ax.get_ylabel() for ax in fig.axes[-3:]] == ["E − E(0)", "S", "entropy production"]
    single = plot(flat, ["T2"], thermodynamics=False, title="custom")
    assert single.get_suptitle() == "custom"
    (ax,) = single.axes
    assert ax.get_ylabel() == "T2 [K]" and ax.get_legend() is None
    np.testing.assert_allclose(_y(ax.get_lines()[0]), np.asarray(flat["T2"]))


def test_a_saved_and_loaded_trajectory_plots_alike(flat, tmp_path):
    # what `generic-mm plot` does with the files `run` writes
    loaded = gm.load_trajectory(flat.save(tmp_path / "run.npz"))
    before, after = plot(flat), plot(loaded)
    assert after.get_suptitle() == before.get_suptitle()
    assert [ax.get_ylabel() for ax in after.axes] == [ax.get_ylabel() for ax in before.axes]
    assert [_labels(ax) for ax in after.axes] == [_labels(ax) for ax in before.axes]
    # a .csv carries the name, units and conjugates too: the same figure
    csv = plot(gm.load_trajectory(flat.save(tmp_path / "run.csv")))
    assert csv.get_suptitle() == before.get_suptitle()
    assert [_labels(ax) for ax in csv.axes] == [_labels(ax) for ax in before.axes]


def test_conjugates_are_their_own_kind(flat):
    fig = plot(flat, ["dE/ds1", "T1"], thermodynamics=False)
    assert [_labels(ax) for ax in fig.axes] == [["dE/ds1"], ["T1 [K]"]]
    np.testing.assert_allclose(_y(fig.axes[0].get_lines()[0]), np.asarray(flat["T1"]), rtol=1e-12)


# -- the panel rule -------------------------------------------------------------------------------
def test_momenta_and_entropies_on_different_axes(flat):
    fig = plot(flat)
    assert _labels(_axes_with(fig, "p [kg m/s]")) == ["p [kg m/s]"]
    assert _labels(_axes_with(fig, "s1 [J/K]")) == ["s1 [J/K]", "s2 [J/K]"]
    bare = plot(dataclasses.replace(flat, unit_items=()))  # without units: by kind and scale
    assert _labels(_axes_with(bare, "p")) == ["q", "p"]
    assert _labels(_axes_with(bare, "s1")) == ["s1", "s2"]
    # the rule is about spans: the entropies do vary, by far less than the momenta
    span = lambda name: np.ptp(np.asarray(flat[name]))
    assert span("p") > SHARE * span("s1") > 0


def test_entropy_variables_never_share_a_panel_with_mechanics():
    # Bath 2 starts cold: s2 changes by as much as q, within q's range, yet it is an
    # entropy variable (dS/ds2 != 0) and is not drawn with the mechanics.
    y0 = {"q": 1.0, "p": 0.0, "s1": 0.0, "s2": -1.0}
    traj = gm.simulate(_oscillator(), y0, t1=10.0, params={"C": 1.0, "T0": 1.0})
    traj = dataclasses.replace(traj, unit_items=())  # units would separate them anyway
    span = lambda name: np.ptp(np.asarray(traj[name]))
    assert span("s2") > 0.5 and -1.0 <= float(np.min(traj["s2"])) < float(np.max(traj["s2"])) < 1
    fig = plot(traj, ["q", "p", "s2"], thermodynamics=False)
    assert [_labels(ax) for ax in fig.axes] == [["q", "p"], ["s2"]]


def _curve(label, lo, hi, kind="state", unit=""):
    return _Curve(label, kind, unit, np.array([[lo, hi]]))


def test_quantities_in_different_units_never_share_a_panel():
    panels = _group([_curve("T", 0, 1, unit="K"), _curve("e", 0, 1, unit="J"), _curve("u", 0, 1)])
    assert [[c.label for c in p] for p in panels] == [["T"], ["e"], ["u"]]


def test_group_rule():
    panels = _group([
        _curve("a", 0.0, 1.0), _curve("b", -0.5, 0.6),   # alike: share
        _curve("c", 0.0, 0.05),                           # varies 20x less: own panel
        _curve("d", 300.0, 301.0),                        # same span, far level: own panel
        _curve("e", 0.5, 0.5),                            # constant inside a's range: joins
        _curve("f", 0.0, 1.0, kind="observable"),         # another kind: never shares
        _curve("g", 0.0, 0.09),                           # joins c (within 10x)
    ])  # fmt: skip
    assert [[c.label for c in panel] for panel in panels] == [
        ["a", "b", "e"],
        ["c", "g"],
        ["d"],
        ["f"],
    ]


# -- entropy production by process ----------------------------------------------------------------
def _edges(collection, ts) -> tuple[np.ndarray, np.ndarray]:
    """The lower and upper boundary of a filled area at the times `ts`."""
    vertices = np.asarray(collection.get_paths()[0].vertices, dtype=float)
    at = [vertices[np.isclose(vertices[:, 0], t), 1] for t in ts]
    return np.array([v.min() for v in at]), np.array([v.max() for v in at])


def test_stacked_production_sums_to_total(flat):
    fig = plot(flat)
    ax = fig.axes[-1]
    ts = np.asarray(flat.ts)
    parts = flat.entropy_production_by_process
    assert sorted(parts) == ["conduction", "viscosity"]
    assert _legend_texts(ax) == [*parts, "total"]
    assert len(ax.collections) == 2
    stacked = np.cumsum([np.asarray(v) for v in parts.values()], axis=0)
    below = np.concatenate([np.zeros_like(stacked[:1]), stacked[:-1]])
    for collection, lower, upper in zip(ax.collections, below, stacked):  # each area: one process
        bottom, top = _edges(collection, ts)
        np.testing.assert_allclose(bottom, lower, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(top, upper, rtol=1e-12, atol=1e-15)
    (total,) = ax.get_lines()
    np.testing.assert_allclose(_y(total), np.asarray(flat.entropy_production))
    np.testing.assert_allclose(stacked[-1], _y(total), rtol=1e-9, atol=1e-14)
    assert (
        np.ptp(np.asarray(parts["conduction"])) > 0 and np.ptp(np.asarray(parts["viscosity"])) > 0
    )


# -- legends --------------------------------------------------------------------------------------
@pytest.mark.parametrize("which", ["flat", "structured", "ensemble"])
def test_legends_do_not_cover_the_data(which, request):
    fig = plot(request.getfixturevalue(which))
    fig.draw_without_rendering()
    legends = 0
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is None:
            continue
        legends += 1
        box = legend.get_window_extent()
        assert not box.overlaps(ax.get_window_extent()), ax.get_ylabel()
        for line in ax.get_lines():
            assert not box.overlaps(line.get_window_extent()), line.get_label()
    assert legends >= 2


# -- structured models and ensembles --------------------------------------------------------------
def test_fields_mean_with_min_max_band(structured):
    fig = plot(structured)
    assert fig.get_suptitle() == "rod"
    s = np.asarray(structured["s"])
    assert s.shape == (21, 6)
    ax = fig.axes[0]
    assert ax.get_ylabel() == "s [J/K]"
    np.testing.assert_allclose(_y(ax.get_lines()[0]), s.mean(axis=1))
    (band,) = ax.collections
    bottom, top = _edges(band, np.asarray(structured.ts))
    np.testing.assert_allclose(top, s.max(axis=1))
    np.testing.assert_allclose(bottom, s.min(axis=1))
    assert "shaded: min–max over cells" in _legend_texts(ax)
    assert _axes_with(fig, "T [K]").get_ylabel() == "T [K]"
    assert _legend_texts(fig.axes[-1]) == ["conduction", "total"]


def test_fields_one_cell(structured):
    fig = plot(structured, ["T"], cell=-1, thermodynamics=False)
    (ax,) = fig.axes
    assert ax.get_ylabel() == "T[5] [K]" and not ax.collections
    np.testing.assert_allclose(_y(ax.get_lines()[0]), np.asarray(structured["T"])[:, 5])
    with pytest.raises(gm.InputError, match=r"cell=\(1, 2\): the field 's' has shape \(6,\)"):
        plot(structured, cell=(1, 2))
    with pytest.raises(gm.InputError, match=r"cell=6: outside the field 's' of shape \(6,\)"):
        plot(structured, cell=6)


def test_cell_on_a_flat_model_is_refused(flat):
    with pytest.raises(gm.InputError, match="cell=0: none of the chosen quantities is a field"):
        plot(flat, cell=0)


def test_ensemble_all_members_thin(ensemble):
    fig = plot(ensemble)
    # the title says which member is which: the swept values, dark to light
    assert fig.get_suptitle() == f"{NAME} (ensemble of 3 members: gamma = 0.1 … 1, dark to light)"
    ax = _axes_with(fig, "q [m]")
    q_lines = ax.get_lines()[:3]
    for member, line in enumerate(q_lines):
        np.testing.assert_allclose(_y(line), np.asarray(ensemble["q"])[member])
        assert line.get_linewidth() < 1.0
    alphas = [line.get_alpha() for line in q_lines]
    assert alphas[0] == 1.0 and alphas[0] > alphas[1] > alphas[2]
    assert _legend_texts(_axes_with(fig, "T1 [K]")) == ["T1 [K]", "T2 [K]"]  # one per quantity
    production = fig.axes[-1]
    assert not production.collections  # lines per process and member, not stacks
    assert len(production.get_lines()) == 3 * 3


def test_ensemble_one_member(ensemble):
    fig = plot(ensemble, ["q"], member=-1)
    assert fig.get_suptitle() == f"{NAME} (member 2 of 3)"
    line = fig.axes[0].get_lines()[0]
    np.testing.assert_allclose(_y(line), np.asarray(ensemble["q"])[2])
    assert len(fig.axes[-1].collections) == 2  # a single run: stacked again
    with pytest.raises(gm.InputError, match=r"member=3: the ensemble has 3 members \(0 to 2\)"):
        plot(ensemble, member=3)


def test_member_of_a_single_run_is_refused(flat):
    with pytest.raises(gm.InputError, match="member=0: the trajectory is a single run"):
        plot(flat, member=0)


# -- choosing variables ---------------------------------------------------------------------------
def test_unknown_and_repeated_names(flat):
    with pytest.raises(gm.InputError, match=r"vars\[1\]: 'T_2' is not .* \(did you mean 'T2'\?\)"):
        plot(flat, ["q", "T_2"])
    with pytest.raises(gm.InputError, match=r"vars\[0\]: 'dE/dx' is not"):
        plot(flat, ["dE/dx"])
    with pytest.raises(gm.InputError, match=r"vars\[1\]: 'q' is given twice"):
        plot(flat, ["q", "q"])
    with pytest.raises(gm.InputError, match="vars: nothing to plot"):
        plot(flat, [], thermodynamics=False)
    with pytest.raises(gm.InputError, match="vars: expected a list of names"):
        plot(flat, [1])  # type: ignore[list-item]
    assert len(plot(flat, "q").axes) == 1 + 3  # one name as a string


# -- saving ---------------------------------------------------------------------------------------
MAGIC = {".png": (b"\x89PNG",), ".svg": (b"<?xml", b"<svg"), ".pdf": (b"%PDF",)}


@pytest.mark.parametrize("suffix", [".png", ".svg", ".pdf", ".PDF"])
def test_each_format_written_atomically(flat, tmp_path, suffix):
    import matplotlib.pyplot as plt

    backend = matplotlib.get_backend()
    figures = plt.get_fignums()
    target = tmp_path / f"figure{suffix}"
    fig = plot(flat, path=target)
    assert isinstance(fig, Figure)
    assert target.read_bytes().startswith(MAGIC[suffix.lower()])
    assert [f.name for f in tmp_path.iterdir()] == [target.name]  # no temporary file left
    assert matplotlib.get_backend() == backend and plt.get_fignums() == figures


@pytest.mark.parametrize("name", ["figure.jpg", "figure", "figure.png.gz"])
def test_unsupported_suffix(flat, tmp_path, name):
    with pytest.raises(
        gm.InputError, match=r"path .*not a supported figure format; use one of \.png, \.svg, \.pdf"
    ):
        plot(flat, path=tmp_path / name)
    assert not list(tmp_path.iterdir())


def test_missing_folder(flat, tmp_path):
    with pytest.raises(
        gm.InputError, match=r"path .*missing.*: the folder .*missing does not exist"
    ):
        plot(flat, path=tmp_path / "missing" / "figure.png")
    assert not list(tmp_path.iterdir())


def test_an_existing_file_is_replaced_not_overwritten(flat, tmp_path):
    # A reader of the old file never sees a half-written figure: the new one is renamed
    # into place (a new inode), the old content stays intact for whoever has it open.
    target = tmp_path / "figure.svg"
    target.write_bytes(b"old")
    with open(target, "rb") as reader:
        plot(flat, path=target)
        assert reader.read() == b"old"
    assert target.read_bytes().startswith(MAGIC[".svg"])
    assert [f.name for f in tmp_path.iterdir()] == [target.name]


def test_failed_render_leaves_the_old_file(flat, tmp_path, monkeypatch):
    target = tmp_path / "figure.png"
    target.write_bytes(b"old")

    def fail(*args, **kwargs):
        raise RuntimeError("renderer failed")

    monkeypatch.setattr(Figure, "savefig", fail)
    with pytest.raises(RuntimeError, match="renderer failed"):
        plot(flat, path=target)
    assert target.read_bytes() == b"old"
    assert [f.name for f in tmp_path.iterdir()] == [target.name]


def test_bad_figsize_and_dpi(flat):
    with pytest.raises(gm.InputError, match="figsize: expected"):
        plot(flat, figsize=(3,))  # type: ignore[arg-type]
    with pytest.raises(gm.InputError, match="figsize: width and height must be positive"):
        plot(flat, figsize=(3, math.nan))
    with pytest.raises(gm.InputError, match="dpi: expected a positive number"):
        plot(flat, dpi=0)
    assert tuple(plot(flat, figsize=(4, 3)).get_size_inches()) == (4.0, 3.0)
