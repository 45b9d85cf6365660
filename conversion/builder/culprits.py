"""Errors raised while examples are generated, named by their culprit: the file (and row, for tensor files).

``datasets`` wraps any exception from ``_generate_examples`` into ``DatasetGenerationError("An error
occurred while generating the dataset")``; from a worker process (``num_proc``) only a traceback text
of the cause comes back. The builder therefore names the item first (:func:`naming_the_item`), and
:func:`unwrapped` turns the generic error back into the named one, in-process or from a worker, so
that ``download_and_prepare()`` raises it and the command line prints it as one line.
"""

from __future__ import annotations

import contextlib
import re

from conversion.builder.build_report import StrictError, printable

CAUSE_SEPARATOR = "The above exception was the direct cause of the following exception:"


class ExampleError(RuntimeError):
    """An error while converting one source file (or one row of a tensor file); the message names it."""


NAMED = {cls.__name__: cls for cls in (ExampleError, StrictError)}
"""Exceptions whose message already names their culprit; rebuilt by name when a worker raised them."""


def _where(item, row: bool) -> str:
    row = f" row {item.index}" if row and str(item.path).endswith(".pt") else ""
    return f"{printable(str(item.path))}{row}"


def naming_the_item(err: Exception, item, row: bool = True) -> Exception:
    """``err`` as an error naming ``item`` (a ``raw_tree.Item``; its row too if ``row``); errors that already
    name it are kept."""
    if isinstance(err, tuple(NAMED.values())):
        return err
    text = printable(str(err).splitlines()[0] if str(err) else "")
    if str(item.path) in str(err):
        return ExampleError(text)
    where = _where(item, row)
    return ExampleError(f"{where}: {type(err).__name__}: {text}" if text else f"{where}: {type(err).__name__}")


def _from_worker(text: str) -> Exception | None:
    """The named error in a worker's traceback text: the last exception line before datasets' wrapper."""
    chunks = text.split(CAUSE_SEPARATOR)
    cause = chunks[-2].strip().splitlines() if len(chunks) > 1 else []
    match = re.match(r"^(?:[\w.]+\.)?(\w+): (.*)$", cause[-1]) if cause else None
    if not match:
        return None
    name, message = match.groups()
    return NAMED.get(name, ExampleError)(message if name in NAMED else f"{name}: {message}")


def cause_of(error: BaseException) -> BaseException | None:
    """The error behind a ``DatasetGenerationError`` (in ``error``'s chain), or None if there is none."""
    from datasets.exceptions import DatasetGenerationError

    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        cause = error.__cause__ or error.__context__
        if isinstance(error, DatasetGenerationError):
            if cause is None:
                return None
            if isinstance(cause, DatasetGenerationError):
                error = cause
                continue
            if type(cause).__name__ == "RemoteTraceback":  # raised in a worker process
                return _from_worker(str(cause))
            return cause
        error = cause
    return None


@contextlib.contextmanager
def unwrapped():
    """Re-raise datasets' generic generation error as the error that caused it (which names its culprit)."""
    try:
        yield
    except Exception as err:
        cause = cause_of(err)
        if cause is None or cause is err:
            raise
        raise cause from None
