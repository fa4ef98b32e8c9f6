r"""Damage laws: AT1 and AT2 phase fields, and Peerlings' implicit gradient.

Each law says how the stiffness degrades with the damage $d\in[0, 1]$, which extra local
state it carries, and the friction block through which $d$ grows. The block has one shape
for every law. With $Y = -\partial E/\partial d$ the elastic energy the cell releases per unit
damage and $T = \partial E/\partial s$ its temperature,
$$M_{(d, s)} = \frac{\phi}{T}\begin{pmatrix}T^2 & TY\\ TY & Y^2\end{pmatrix},\qquad
\phi \ge 0,$$
so $M\nabla E = 0$ for any $\phi$ (the row $(T, Y)$ is orthogonal to
$(\partial_dE, \partial_sE) = (-Y, T)$), $\dot d = \phi Y$, and $T\dot s = Y\dot d$: the energy
the damage releases is heat. The law is in $\phi$:
$$\phi = \frac{\langle f\rangle_+\,\langle Y\rangle_+}{\tau\,(Y^2 + \delta^2)}\quad
\Rightarrow\quad \dot d = \frac{\langle f\rangle_+}{\tau}\,\frac{\langle Y\rangle_+^2}
{Y^2 + \delta^2}\ \ge 0,$$
with $f$ the law's overstress and $\tau$ its viscosity: irreversibility is the friction's
($\dot d = 0$ whenever $f \le 0$ or $Y \le 0$), not a clip. The factor
$\langle Y\rangle_+^2/(Y^2 + \delta^2)$ is 1 to within $(\delta/Y)^2$ once the cell is
loaded and keeps $\phi$ bounded where $Y \to 0$; $\delta$ is $10^{-6}$ of the law's energy
scale per cell.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence

import numpy as np
import sympy as sp

from .._errors import InputError
from .._validate import finite_number

FLOOR = 1e-6  # delta, relative to the law's energy scale per cell


def flag(value, name: str, where: str) -> bool:
    """A bool, or an `InputError` naming `where: name` (`"no"` is not False)."""
    if not isinstance(value, (bool, np.bool_)):
        raise InputError(f"{where}: {name} must be True or False, got {value!r}.")
    return bool(value)


def positive(value, name: str, where: str) -> float:
    """A finite positive number, or an `InputError` naming `where: name`."""
    v = finite_number(value, f"{where}: {name}")
    if v <= 0:
        raise InputError(f"{where}: {name} must be positive, got {value!r}.")
    return v


def dissipation_block(K: sp.Matrix, W: sp.Matrix, T) -> sp.Matrix:
    r"""The friction block $\frac1T W^TKW$ on a cell's (variables..., $s$): the kernel of every
    process here. With the rows of $W$ orthogonal to $\nabla E$ it is degenerate, and with
    $K$ positive semi-definite so is the block."""
    return W.T * K * W / T


def damage_block(phi, Y, T) -> sp.Matrix:
    """The friction block on `(d, s)`: `(phi / T) (T, Y)(T, Y)^T`."""
    return dissipation_block(sp.Matrix([[phi]]), sp.Matrix([[T, Y]]), T)


def relaxation_block(X, T, mobility) -> sp.Matrix:
    r"""The friction block on `(z, s)` of a variable relaxing down its conjugate $X =
    \partial E/\partial z$: $\dot z = -\text{mobility}\,X$, $T\dot s = \text{mobility}\,X^2$."""
    return dissipation_block(sp.Matrix([[mobility]]), sp.Matrix([[T, -X]]), T)


def _rate(overstress, Y, tau, delta):
    """phi = <f>_+ <Y>_+ / (tau (Y^2 + delta^2))."""
    return sp.Max(overstress, 0) * sp.Max(Y, 0) / (tau * (Y**2 + delta**2))


def _omega(kappa, k0, a, b):
    """Peerlings' exponential law (0 below the threshold `k0`)."""
    return sp.Piecewise(
        (1 - k0 / kappa * (1 - a + a * sp.exp(-b * (kappa - k0))), kappa > k0), (0, True)
    )


class AbstractDamageLaw(abc.ABC):
    """A damage law for [`Bar`][generic_mm.damage.Bar] and [`Plate`][generic_mm.damage.Plate]."""

    name: str
    l: float
    local: bool
    extra: tuple[str, ...] = ()  # local state beyond (d, s), e.g. Peerlings' nonlocal strain
    strength: str  # the parameter a weak zone lowers
    signed: tuple[str, ...] = ()  # parameters not declared positive (the rest are)

    @abc.abstractmethod
    def degradation(self, d):
        """The stiffness factor $g(d)$ (1 at $d = 0$, 0 at $d = 1$)."""

    @abc.abstractmethod
    def params(self) -> dict[str, float]:
        """The law's parameters, by symbol name, as the model carries them."""

    @abc.abstractmethod
    def friction(self, cell, neighbours: Sequence, weights: Sequence, volume, spacing) -> sp.Matrix:
        """The friction block on the cell's local state (`d`, extra..., `s`), with the
        neighbours' damage (Laplacian weights per neighbour: 0 for a missing one)."""

    @abc.abstractmethod
    def coupling(self, cell, strain_sq, volume):
        """An extra energy of the elastic interaction (Peerlings' penalty), or 0."""

    @property
    @abc.abstractmethod
    def nonlocal_energy(self) -> bool:
        """Whether the law has an energy on pairs of neighbouring cells (`gradient_energy`)."""

    @abc.abstractmethod
    def gradient_energy(self, a, b, volume, spacing):
        """The energy on a pair of neighbouring cells (Peerlings' $|\\nabla z|^2$), where
        `nonlocal_energy` says there is one."""

    def __repr__(self) -> str:
        names = {"a_exp": "a", "b_exp": "b"}  # the model's names -> the arguments'
        args = ", ".join(f"{names.get(k, k)}={v:g}" for k, v in self.params().items())
        return f"{type(self).__name__}({args}{', local=True' if self.local else ''})"


class PhaseField(AbstractDamageLaw):
    r"""The phase-field (Ambrosio-Tortorelli) laws: energy density
    $(1 - d)^2 W(\varepsilon) + \frac{G_c}{c_w}\left(\frac{w(d)}{l} + l|\nabla d|^2\right)$.

    The crack term is the law's resistance: damage grows at
    $\tau\dot d = \langle Y - R\rangle_+$ per unit volume,
    $R = \frac{G_c}{c_w}\left(\frac{w'(d)}{l} - 2l\nabla^2 d\right)$, the viscous
    regularisation of the Kuhn-Tucker conditions $\dot d \ge 0$, $Y \le R$,
    $(Y - R)\dot d = 0$; the heat $Y\dot d$ is then the rate of the crack energy plus the
    viscous overstress $\tau\dot d^2$. `local=True` drops the gradient term (the local,
    mesh-dependent softening model).
    """

    c_w: float
    power: int
    strength = "Gc"

    def __init__(self, Gc: float = 1e-3, l: float = 0.05, *, tau: float = 1e-2, local=False):
        where = type(self).__name__
        self.Gc = positive(Gc, "Gc", where)
        self.l = positive(l, "l", where)
        self.tau = positive(tau, "tau", where)
        self.local = flag(local, "local", where)

    def w(self, d):
        """The local crack term $w(d)$."""
        return d**self.power

    def degradation(self, d):
        return (1 - d) ** 2

    def coupling(self, cell, strain_sq, volume):
        return 0

    @property
    def nonlocal_energy(self) -> bool:
        return False

    def gradient_energy(self, a, b, volume, spacing):
        raise NotImplementedError("the phase-field laws have no energy on cell pairs")

    def params(self):
        return {"Gc": self.Gc, "l": self.l, "tau": self.tau}

    def friction(self, cell, neighbours, weights, volume, spacing) -> sp.Matrix:
        d = cell.d
        laplacian = sum(
            w * (n.Gc + cell.Gc) / 2 * (n.d - d) / h**2
            for n, w, h in zip(neighbours, weights, spacing, strict=True)
        )
        resistance = cell.Gc / self.c_w * sp.diff(self.w(d), d) / cell.l
        if not self.local:
            resistance = resistance - 2 * cell.l / self.c_w * laplacian
        Y, T = -cell.dE("d"), cell.dE("s")
        delta = FLOOR * cell.Gc / cell.l * volume
        phi = _rate(Y - resistance * volume, Y, cell.tau * volume, delta)
        return damage_block(phi, Y, T)

    def crack_density(self, d, gradient_sq, Gc):
        """The crack energy per unit volume, $\\frac{G_c}{c_w}(w(d)/l + l|\\nabla d|^2)$
        (NumPy arrays)."""
        return Gc / self.c_w * (d**self.power / self.l + self.l * gradient_sq)

    def critical_stress(self, E: float) -> float:
        """The peak stress of a homogeneous bar of modulus `E` in uniaxial tension (for a
        plate pass its effective uniaxial modulus, e.g. $E/(1 - \\nu^2)$ with the ends held)."""
        return self._critical_stress(positive(E, "E", f"{self.name}.critical_stress"))

    @abc.abstractmethod
    def _critical_stress(self, E: float) -> float:
        """The closed form at a validated modulus."""

    @abc.abstractmethod
    def profile(self, x):
        """The optimal (fully broken) damage profile at distance `x` from the crack."""


class AT1(PhaseField):
    r"""AT1: $w(d) = d$, $c_w = 8/3$. An elastic phase up to
    $\sigma_c = \sqrt{3G_cE/(8l)}$; the optimal crack profile
    $d(x) = (1 - |x|/(2l))^2$ on $|x| < 2l$, of energy $G_c$ per unit area.

    **Arguments:** `Gc` (fracture toughness, energy per unit crack area), `l` (internal
    length), `tau` (damage viscosity, a stress times a time: $\tau\dot d = \langle Y/V -
    R\rangle_+$; damage relaxes in about $\tau c_wl/G_c$, which should be small against
    the loading time), `local` (drop the gradient term).
    """

    name = "AT1"
    c_w = 8 / 3
    power = 1

    def _critical_stress(self, E: float) -> float:
        """$\\sqrt{3G_cE/(8l)}$."""
        return (3 * self.Gc * E / (8 * self.l)) ** 0.5

    def profile(self, x):
        x = np.abs(np.asarray(x, dtype=float))
        return np.where(x < 2 * self.l, (1 - x / (2 * self.l)) ** 2, 0.0)


class AT2(PhaseField):
    r"""AT2: $w(d) = d^2$, $c_w = 2$. Damage from the first load; peak stress
    $\sigma_c = \frac{3\sqrt3}{16}\sqrt{G_cE/l}$ (homogeneous, at $d = 1/4$); the optimal
    crack profile $d(x) = e^{-|x|/l}$, of energy $G_c$ per unit area.

    **Arguments:** as [`AT1`][generic_mm.damage.AT1].
    """

    name = "AT2"
    c_w = 2.0
    power = 2

    def _critical_stress(self, E: float) -> float:
        """$\\frac{3\\sqrt3}{16}\\sqrt{G_cE/l}$."""
        return 3 * 3**0.5 / 16 * (self.Gc * E / self.l) ** 0.5

    def profile(self, x):
        return np.exp(-np.abs(np.asarray(x, dtype=float)) / self.l)


class Peerlings(AbstractDamageLaw):
    r"""Peerlings' implicit-gradient damage, in micromorphic form.

    A nonlocal variable $z$ per cell (a squared equivalent strain) carries the energy
    $\frac{\alpha}{2}(z - \varepsilon_{eq}^2)^2 + \frac{\alpha l^2}{2}|\nabla z|^2$ and
    relaxes down its conjugate ($\dot z = -\partial E/\partial z/(\tau_z V)$, fast), so at
    rest $z - l^2\nabla^2 z = \varepsilon_{eq}^2$: Peerlings' equation (Peerlings et al.
    1996) for the squared equivalent strain (Mazars': $\sum_i\langle\varepsilon_i\rangle_+^2$
    over the principal strains; in a bar $\langle\varepsilon\rangle_+^2$). The damage follows
    the history of $\kappa = \sqrt z$ through the exponential law
    $\omega(\kappa) = 1 - \frac{\kappa_0}{\kappa}\left(1 - a + ae^{-b(\kappa - \kappa_0)}\right)$
    ($\kappa > \kappa_0$), $\tau\dot d = \langle\omega(\sqrt z) - d\rangle_+$, with the
    stiffness $(1 - d)E$. `alpha` sets how strongly $z$ is tied to the local strain (the
    penalty's stress $2\alpha(\varepsilon^2 - z)\varepsilon$ is small for
    $\alpha\varepsilon^2 \ll E$); `local=True` drops $|\nabla z|^2$.

    **Arguments:** `l`, `kappa0`, `a`, `b`, `alpha`, `tau` (damage viscosity, a time),
    `tau_z` (the viscosity of $z$, like `alpha` an energy density, times a time: uniform
    $z$ relaxes in $\tau_z/\alpha$, the shortest mesh modes at the rate
    $\alpha(1 + 4l^2/h^2)/\tau_z$, which sets the explicit step: keep $\tau_z/\alpha$ small
    against the loading time but not smaller than needed), `local`.
    """

    name = "Peerlings"
    extra = ("z",)
    strength = "kappa0"
    signed = ("a_exp",)  # in [0, 1]: a = 0 is allowed

    def __init__(
        self,
        l: float = 0.05,
        *,
        kappa0: float = 0.05,
        a: float = 0.99,
        b: float = 30.0,
        alpha: float = 1.0,
        tau: float = 1e-2,
        tau_z: float = 0.05,
        local: bool = False,
    ):
        where = "Peerlings"
        self.l = positive(l, "l", where)
        self.kappa0 = positive(kappa0, "kappa0", where)
        self.a = finite_number(a, f"{where}: a")
        if not 0 <= self.a <= 1:
            raise InputError(f"{where}: a must be in [0, 1], got {a!r}.")
        self.b = positive(b, "b", where)
        self.alpha = positive(alpha, "alpha", where)
        self.tau = positive(tau, "tau", where)
        self.tau_z = positive(tau_z, "tau_z", where)
        self.local = flag(local, "local", where)

    def degradation(self, d):
        return 1 - d

    def params(self):
        return {
            "l": self.l,
            "kappa0": self.kappa0,
            "a_exp": self.a,
            "b_exp": self.b,
            "alpha": self.alpha,
            "tau": self.tau,
            "tau_z": self.tau_z,
        }

    def omega(self, kappa):
        """The damage law $\\omega(\\kappa)$ at this law's values (0 below $\\kappa_0$)."""
        return float(_omega(sp.Float(kappa), self.kappa0, self.a, self.b))

    def coupling(self, cell, strain_sq, volume):
        return cell.alpha * volume / 2 * (cell.z - strain_sq) ** 2

    @property
    def nonlocal_energy(self) -> bool:
        return not self.local

    def gradient_energy(self, a, b, volume, spacing):
        return a.alpha * a.l**2 * volume / 2 * ((b.z - a.z) / spacing) ** 2

    def friction(self, cell, neighbours, weights, volume, spacing) -> sp.Matrix:
        Y, X, T = -cell.dE("d"), cell.dE("z"), cell.dE("s")
        target = _omega(sp.sqrt(sp.Max(cell.z, 0)), cell.kappa0, cell.a_exp, cell.b_exp)
        delta = FLOOR * volume * cell.E * cell.kappa0**2
        phi = _rate(target - cell.d, Y, cell.tau, delta)
        M = sp.zeros(3, 3)
        block = damage_block(phi, Y, T)
        for i, j in ((0, 0), (0, 2), (2, 0), (2, 2)):
            M[i, j] = block[i // 2, j // 2]
        return M + sp.diag(0, relaxation_block(X, T, 1 / (cell.tau_z * volume)))
