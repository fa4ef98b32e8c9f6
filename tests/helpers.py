"""Small models used across the tests."""

import sympy as sp

import generic_mm as gm

q, p, s = sp.symbols("q p s", real=True)
k = sp.Symbol("k", positive=True)

OSCILLATOR = dict(
    state=[q, p, s],
    energy=p**2 / 2 + k * q**2 / 2 + s,
    entropy=s,
    poisson=[[0, 1, 0], [-1, 0, 0], [0, 0, 0]],
    friction=None,
    params={k: 1.0},
)
"""The fields of a frictionless harmonic oscillator (q, p) with a passive entropy variable s."""


def oscillator(**overrides):
    """The oscillator `GenericModel`, with some fields replaced."""
    return gm.GenericModel(**{**OSCILLATOR, **overrides})
