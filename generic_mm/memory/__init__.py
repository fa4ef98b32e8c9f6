"""Memory as a GENERIC embedding, and Mori-Zwanzig from resolved models: Prony kernels and
generalized Langevin models, Kac-Zwanzig baths and the harmonic chain, correlation
functions, Volterra kernel extraction and constrained Prony fits."""

from ._chain import (
    chain_kernel as chain_kernel,
    heavy_atom_chain as heavy_atom_chain,
    ring_kernel as ring_kernel,
)
from ._correlation import (
    ResolvedSystem as ResolvedSystem,
    autocorrelation as autocorrelation,
    diffusion_coefficient as diffusion_coefficient,
    einstein_diffusion as einstein_diffusion,
    impulse_vacf as impulse_vacf,
)
from ._embedding import gle_model as gle_model, markovian_model as markovian_model
from ._fit import fit_prony as fit_prony
from ._kac_zwanzig import (
    AbstractSpectralDensity as AbstractSpectralDensity,
    Debye as Debye,
    Ohmic as Ohmic,
    kac_zwanzig as kac_zwanzig,
)
from ._kernels import (
    AbstractKernel as AbstractKernel,
    CosineKernel as CosineKernel,
    PronyKernel as PronyKernel,
)
from ._volterra import extract_kernel as extract_kernel
