"""Closed forms only (numpy/scipy, never torch, never the simulators): each function cites its source."""

from collapse_utils.theory import linear

__all__ = ["linear"]
