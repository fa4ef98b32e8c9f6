"""The model library: ready-made GENERIC models, each a module with

- `model(**params) -> GenericModel` (keyword arguments override default parameter values),
- `initial_state`: a dict name -> value for a typical run,
- `DESCRIPTION`: one line.

```python
from generic_mm.models import damped_oscillator
traj = gm.simulate(damped_oscillator.model(), damped_oscillator.initial_state, t1=50.0)
```
"""

from . import (
    damped_oscillator as damped_oscillator,
    heat_exchange as heat_exchange,
    maxwell as maxwell,
    rigid_body as rigid_body,
)

MODULES = (damped_oscillator, heat_exchange, rigid_body, maxwell)
"""Every Python model module of the library."""
