"""Closed forms only (numpy/scipy, never torch, never the simulators): each function cites its source."""

from collapse_utils.theory import gaussian, kde, linear, ridge, scaling

__all__ = ["gaussian", "kde", "linear", "ridge", "scaling"]
