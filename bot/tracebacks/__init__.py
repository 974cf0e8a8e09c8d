"""Read Python tracebacks out of logs. Standard library only: ships in the forwarder."""

from .model import ExceptionBlock, Frame, Location, Relation, Traceback

__all__ = ["ExceptionBlock", "Frame", "Location", "Relation", "Traceback"]
