"""`CheckResult` and `ConsistencyReport`: what `generic_mm.check` returns."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from typing import Literal

from ._errors import ConsistencyError

CONDITIONS: tuple[str, ...] = (
    "poisson_antisymmetric",
    "jacobi_identity",
    "friction_symmetric",
    "friction_positive_semidefinite",
    "poisson_degeneracy",
    "friction_degeneracy",
)
"""The names of the conditions, in the order they are checked and reported."""

DESCRIPTIONS: dict[str, str] = {
    "poisson_antisymmetric": "L = -L^T",
    "jacobi_identity": "Poisson bracket satisfies Jacobi",
    "friction_symmetric": "M = M^T",
    "friction_positive_semidefinite": "M >= 0",
    "poisson_degeneracy": "L grad S = 0",
    "friction_degeneracy": "M grad E = 0",
}


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """The outcome of one consistency condition.

    **Attributes:**

    - `name`: one of `generic_mm.CONDITIONS`.
    - `passed`: whether the condition was established (never `True` on a guess).
    - `method`: `"symbolic"` (proved with SymPy) or `"sampled"` (evaluated in float64 at
        many states of the domain, with a relative tolerance).
    - `message`: a one-line explanation.
    - `counterexample`: when failed, the state and parameter values (by name) where the
        condition is violated the most; otherwise `None`.
    - `residual`: for sampled checks, the worst relative residual found.
    """

    name: str
    passed: bool
    method: Literal["symbolic", "sampled"]
    message: str
    counterexample: dict[str, float] | None = None
    residual: float | None = None

    def __bool__(self) -> bool:
        return self.passed


class ConsistencyReport:
    r"""The results of [`generic_mm.check`][]: one [`generic_mm.CheckResult`][] per condition.

    `report.ok` is `True` when every condition holds; `report["jacobi_identity"]` gives one
    result; `print(report)` shows a table.

    A sampled pass speaks for the region the samples covered: `report.region` lists it (one
    line per state variable and parameter: its interval, and whether the interval was
    declared in the model's domain or defaulted), `report.defaulted` names the variables
    whose interval was defaulted.

    For a model with named dissipative processes (`friction={name: M_k}`) or named
    reversible couplings (`poisson={name: L_k}`), `report.processes` maps each name to its
    own results (each process must be symmetric, positive semi-definite and satisfy
    $M_k\nabla E = 0$; each coupling antisymmetric with $L_k\nabla S = 0$); the top-level
    result of such a condition holds only when it holds for every part.
    """

    def __init__(
        self,
        model_name: str,
        results: Sequence[CheckResult],
        *,
        region: Sequence[str] = (),
        defaulted: Sequence[str] = (),
        processes: Mapping[str, Sequence[CheckResult]] | None = None,
    ):
        self.model_name = model_name
        self.results: list[CheckResult] = list(results)
        self.region: tuple[str, ...] = tuple(region)
        self.defaulted: tuple[str, ...] = tuple(defaulted)
        self.processes: dict[str, list[CheckResult]] = {
            k: list(v) for k, v in (processes or {}).items()
        }

    @property
    def ok(self) -> bool:
        """Whether every condition holds."""
        return all(r.passed for r in self.results)

    @property
    def failed(self) -> list[CheckResult]:
        """The results of the conditions that do not hold."""
        return [r for r in self.results if not r.passed]

    def __getitem__(self, name: str) -> CheckResult:
        for r in self.results:
            if r.name == name:
                return r
        raise KeyError(f"no condition named {name!r}; the conditions are {', '.join(CONDITIONS)}")

    def __iter__(self) -> Iterator[CheckResult]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def raise_if_failed(self) -> None:
        """Raise `ConsistencyError` (with this report attached) unless every condition holds."""
        if not self.ok:
            names = ", ".join(r.name for r in self.failed)
            raise ConsistencyError(
                f"model {self.model_name!r} violates {names}.\n{self}\n"
                "Fix the model, or pass check=False to integrate it anyway.",
                report=self,
            )

    def __str__(self) -> str:
        status = "all conditions hold" if self.ok else f"{len(self.failed)} condition(s) FAIL"
        lines = [f"Consistency report for {self.model_name!r}: {status}"]
        width = max(len(c) for c in CONDITIONS)
        dwidth = max(len(d) for d in DESCRIPTIONS.values())
        lines.append(f"  {'condition':<{width}}  {'meaning':<{dwidth}}  result  method    detail")
        for r in self.results:
            mark = "pass" if r.passed else "FAIL"
            desc = DESCRIPTIONS.get(r.name, "")
            lines.append(
                f"  {r.name:<{width}}  {desc:<{dwidth}}  {mark:<6}  {r.method:<8}  {r.message}"
            )
            if r.counterexample:
                values = ", ".join(f"{k}={v:.6g}" for k, v in r.counterexample.items())
                lines.append(f"  {'':<{width}}  {'':<{dwidth}}  counterexample: {values}")
        if self.processes:
            lines.append("  each process / coupling on its own:")
            pw = max(len(k) for k in self.processes)
            for key, results in self.processes.items():
                marks = ", ".join(
                    f"{r.name} {'pass' if r.passed else 'FAIL'} ({r.method})" for r in results
                )
                lines.append(f"    {key:<{pw}}  {marks}")
                for r in results:
                    if not r.passed:
                        lines.append(f"    {'':<{pw}}  {r.name}: {r.message}")
        if any(r.method == "sampled" for r in self.results) and self.region:
            lines.append("  sampled region: " + "; ".join(self.region))
            if self.defaulted:
                lines.append(
                    "  defaulted, not declared (give a domain to check where you run): "
                    + ", ".join(self.defaulted)
                )
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"ConsistencyReport(model={self.model_name!r}, ok={self.ok})"

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td><code>{r.name}</code></td><td>{'pass' if r.passed else '<b>FAIL</b>'}</td>"
            f"<td>{r.method}</td><td>{r.message}</td></tr>"
            for r in self.results
        )
        return (
            f"<p>Consistency report for <b>{self.model_name}</b></p><table>"
            "<tr><th>condition</th><th>result</th><th>method</th><th>detail</th></tr>"
            f"{rows}</table>"
        )
