"""Dcard: a client for the Dcard forums' public API."""

from .dcard import Dcard

__all__ = ["Dcard"]
