"""Offline datasets: everything a chapter needs ships with a package, so the book builds without a network."""

from collapse_utils.data import mnist

__all__ = ["mnist"]
