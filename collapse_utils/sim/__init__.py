"""Monte-Carlo simulators, one per theory module; they never use the closed forms they are checked against."""

from collapse_utils.sim import gaussian, kde, kernel, linear, ridge

__all__ = ["gaussian", "kde", "kernel", "linear", "ridge"]
