"""Give an object of a CL library's class extra methods, by a subclass that still pickles.

Avalanche's datasets and Continuum's scenarios and task sets are made by the libraries themselves, so a
batch fetch (``__getitems__``, which torch's DataLoader calls when a dataset has it) can only be added to
the objects they return. :func:`extend` switches such an object to a cached subclass of its class with the
methods added. The subclass keeps the class's name; an extended object pickles (spawned DataLoader
workers, checkpoints) and copies (``copy.copy``, which the libraries use to derive datasets) as the
library's own object plus the same methods.
"""

from __future__ import annotations

import functools


def extend(obj, **methods):
    """``obj`` itself, now of a subclass of its class that has ``methods`` (module-level functions)."""
    obj.__class__ = _subclass(type(obj), tuple(sorted(methods.items())))
    return obj


@functools.cache
def _subclass(base: type, methods: tuple) -> type:
    return type(base.__name__, (base,), {**dict(methods), "_extended_with": methods, "__reduce_ex__": _reduce_ex,
                                         "__module__": __name__})


def _reduce_ex(self, protocol):
    plain = object.__new__(type(self).__mro__[1])
    plain.__dict__.update(self.__dict__)
    return _extended, (plain, type(self)._extended_with)


def _extended(plain, methods: tuple):
    return extend(plain, **dict(methods))
