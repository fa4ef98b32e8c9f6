"""The model library: ready-made GENERIC models, each a module with

- `model(**params) -> GenericModel` (keyword arguments override default parameter values),
- `initial_state`: a dict name -> value for a typical run,
- `DESCRIPTION`: one line.

```python
from generic_mm.models import damped_oscillator
traj = gm.simulate(damped_oscillator.model(), damped_oscillator.initial_state, t1=50.0)
```
Every model is also a TOML model file in this folder (`*.toml`, read with
`generic_mm.load_model`), with more models that exist only as files.
"""

from pathlib import Path

from . import (
    damped_oscillator as damped_oscillator,
    heat_chain as heat_chain,
    heat_exchange as heat_exchange,
    maxwell as maxwell,
    rigid_body as rigid_body,
)

MODULES = (damped_oscillator, heat_exchange, rigid_body, maxwell)
"""Every Python model module of the library."""


LIBRARY = Path(__file__).parent
"""The folder of the model library."""


def files() -> list[Path]:
    """The model files of the library, sorted by name."""
    return sorted(LIBRARY.glob("*.toml"))


def find(name: str) -> Path | None:
    """The library file called `name` (with or without `.toml`), or `None`."""
    stem = name.removesuffix(".toml")
    path = LIBRARY / f"{stem}.toml"
    return path if stem.isidentifier() and path.is_file() else None
