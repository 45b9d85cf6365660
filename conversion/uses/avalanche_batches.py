"""Avalanche datasets of :class:`conversion.uses.torch_pairs.Pairs` that hand a DataLoader whole batches.

torch's DataLoader fetches a batch with one ``dataset.__getitems__(indices)`` call where the dataset has
one; Avalanche's datasets have none, so every row goes through Avalanche's layers and :class:`Pairs` one
by one (benchmarks/README.md, group h). :func:`batched` gives an Avalanche dataset that method: while the
dataset is one :class:`Pairs` (an experience, or a subset of one) and none of Avalanche's transform groups
is active, the batch is one gather of the decoded pixels and one call of the paper's input transform
(``Pairs.__getitems__``), and Avalanche's per-row attributes (e.g. the task label) are appended as its own
``__getitem__`` appends them. Anything else (a concatenation, a transform group added) is fetched row by
row, by Avalanche itself, with the same result.
"""

from __future__ import annotations

from conversion.uses import library_classes
from conversion.uses.torch_pairs import Pairs


def batched(dataset):
    """``dataset`` (an Avalanche dataset) with ``__getitems__`` (:func:`conversion.uses.library_classes.extend`)."""
    return library_classes.extend(dataset, __getitems__=_getitems)


def _getitems(self, indices) -> list:
    rows = _pairs_rows(self._flat_data, indices)
    if rows is None:
        return [self[i] for i in indices]
    attributes = [attribute for attribute in self._data_attributes.values() if attribute.use_in_getitem]
    if not attributes:
        return rows
    # tuples, where Avalanche's rows are lists: torch's default collate makes the same batch of both,
    # and of tuples in a third of the time (no per-field copy of a list)
    columns = [[attribute[index] for index in indices] for attribute in attributes]
    return [(*row, *values) for row, *values in zip(rows, *columns)]


def _pairs_rows(flat, indices) -> list[tuple] | None:
    """The rows of the one :class:`Pairs` behind Avalanche's ``flat`` data; None where ``flat`` is anything
    else or a transform group is active."""
    datasets = getattr(flat, "_datasets", ())
    if len(datasets) != 1 or not isinstance(datasets[0], Pairs) or datasets[0].pixels is None:
        return None
    for groups in (flat._frozen_transform_groups, flat._transform_groups):
        if groups is not None and groups.transform_groups[groups.current_group] is not None:
            return None
    mapped = indices if flat._indices is None else [flat._indices[i] for i in indices]
    return datasets[0].__getitems__(mapped)
