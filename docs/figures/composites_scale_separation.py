"""Draw docs/figures/composites_scale_separation.png: the two-temperature model's error
against the resolved laminate as scale separation degrades (the computation of tutorial 5).

Run from the repository root: `python docs/figures/composites_scale_separation.py`.
"""

from pathlib import Path

import jax.numpy as jnp
import matplotlib
import matplotlib.ticker  # noqa: E402
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import generic_mm as gm  # noqa: E402
from generic_mm.composites import (  # noqa: E402
    Composite,
    Interface,
    Phase,
    laminate,
    mode_rates,
    resolved_laminate,
)
from generic_mm.structured import Grid  # noqa: E402

L_PERIOD = 0.1
RATIOS = [1 / 40, 1 / 30, 1 / 20, 1 / 10, 1 / 5, 1 / 2.5, 1 / 1.25]


def errors() -> tuple[list[float], list[float]]:
    """Relative rate errors of the macroscopic and the exchange mode, per l/lambda."""
    a = Phase("a", fraction=0.5, conductivity=1.0, heat_capacity=1.0)
    b = Phase("b", fraction=0.5, conductivity=10.0, heat_capacity=2.0)
    half = L_PERIOD / 2
    composite = Composite([a, b], [Interface("a", "b", closure=laminate(half, half))])
    slow, fast = [], []
    for ratio in RATIOS:
        lam = L_PERIOD / ratio
        res, _ = resolved_laminate(
            composite, {"a": half, "b": half}, {"a": 8, "b": 8}, nx=4, length=lam
        )
        avg = composite.structured(Grid((4,), periodic=True, spacing=lam / 4))
        r = mode_rates(gm.compile(res, check=False), jnp.zeros(64))[:2]
        m = mode_rates(gm.compile(avg, check=False), jnp.zeros(8))
        slow.append(float(abs(m[0] / r[0] - 1)))
        fast.append(float(abs(m[1] / r[1] - 1)))
    return slow, fast


def main() -> None:
    slow, fast = errors()
    for ratio, s, f in zip(RATIOS, slow, fast, strict=True):
        print(f"l/lambda = {ratio:.3f}: macroscopic mode {s:.2e}, exchange mode {f:.2e}")
    small = np.array(RATIOS) <= 1 / 20  # the well-separated range, as in the test
    slope = np.polyfit(np.log(np.array(RATIOS)[small]), np.log(np.array(slow)[small]), 1)[0]
    print(f"log-log slope of the macroscopic mode's error for l/lambda <= 1/20: {slope:.3f}")
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    ax.loglog(RATIOS, slow, "o-", label="macroscopic mode")
    ax.loglog(RATIOS, fast, "s-", label="exchange mode (closure error)")
    ax.set_xticks(RATIOS, [f"1/{1 / r:g}" for r in RATIOS])
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel(r"layer period / macroscopic wavelength, $l/\lambda$")
    ax.set_ylabel("relative error of the averaged rate")
    ax.set_title(
        r"two-temperature model vs resolved laminate ($k_b/k_a$=10, $C_b/C_a$=2)", fontsize=9
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    out = Path(__file__).with_suffix(".png")
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
