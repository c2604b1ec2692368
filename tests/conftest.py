"""Shared test configuration: hypothesis profiles and input strategies."""
import os

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

# Numba compiles on first call: no per-example deadline. CI uses the default
# profile; HYPOTHESIS_PROFILE=thorough runs many more examples locally.
settings.register_profile(
    "default", deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", deadline=None, max_examples=1000, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def vectors(min_size=1, max_size=40, dtype=np.float64, elements=None):
    """1-D finite float arrays, often with ties (values drawn from a small pool)."""
    if elements is None:
        width = 32 if dtype == np.float32 else 64
        elements = st.one_of(
            st.integers(-5, 5).map(float),
            st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=width),
        )
    return hnp.arrays(dtype, st.integers(min_size, max_size), elements=elements)


def lams(max_value=50.0):
    """Penalty weights, zero and tiny included."""
    return st.one_of(st.just(0.0), st.floats(1e-6, max_value, allow_nan=False))
