"""Closed forms only (numpy/scipy, never torch, never the simulators): each function cites its source."""

from collapse_utils.theory import linear, ridge, scaling

__all__ = ["linear", "ridge", "scaling"]
