"""The contract's configurations (docs/contract.md#configs) as lists of (generator, task) pairs.

``<key>`` holds the six tasks of one generator, ``<key>-task<k>`` one of them, ``disjoint`` is
task k of generator ``task_order[k]`` (GenImage-Disjoint) and ``disjoint-reversed`` task k of the k-th
generator of the paper's reversed order (docs/paper-loader.md#task-orders). Task k always uses the
release's class set k, so the ``task`` column of a (generator, task) pair is the same in every config.
"""

from __future__ import annotations

import difflib

from conversion.contract import tables
from conversion.pixels import corruption_recipe

NUM_TASKS = 6
DISJOINT = "disjoint"
DISJOINT_REVERSED = "disjoint-reversed"


def task_config_name(generator: str, task: int) -> str:
    return f"{generator}-task{task}"


def config_parts() -> dict[str, list[tuple[str, int]]]:
    parts: dict[str, list[tuple[str, int]]] = {}
    for key in tables.generators():
        parts[key] = [(key, t) for t in range(NUM_TASKS)]
    for key in tables.generators():
        for t in range(NUM_TASKS):
            parts[task_config_name(key, t)] = [(key, t)]
    parts[DISJOINT] = [(key, t) for t, key in enumerate(tables.task_order())]
    reversed_order = tables.paper_orders()["reversed"]
    parts[reversed_order["config"]] = [(key, t) for t, key in enumerate(reversed_order["generators"])]
    return parts


def closest(name: str, names) -> str:
    """``"; closest: a, b"`` with the names most like ``name`` (difflib), or ``""`` when none is close."""
    close = difflib.get_close_matches(name.lower(), list(names), n=3, cutoff=0.6)
    return f"; closest: {', '.join(close)}" if close else ""


def listing(corrupted: bool = False) -> str:
    """The config names in one short line."""
    line = (f"{' '.join(tables.generators())} (six tasks each), <key>-task<k> (k = 0..{NUM_TASKS - 1}), "
            f"{DISJOINT}, {DISJOINT_REVERSED}")
    return line + (f", <config>-<corruption> ({', '.join(corruption_recipe.CORRUPTIONS)})" if corrupted else "")


def keyed(name: str, names) -> str | None:
    """The name among ``names`` that ``name`` means when it starts with one of GenImage's own names of a
    generator (its top or inner folder, display name or file tag, e.g. ``stable_diffusion_v_1_4-task3``
    means ``sdv14-task3``); ``None`` otherwise. Compared without case."""
    lowered = name.lower()
    for key, generator in tables.generators().items():
        for alias in (generator.top_folder, generator.inner_folder, generator.display_name, generator.tag):
            alias = alias.lower()
            if alias != key and (lowered == alias or lowered.startswith(alias + "-")):
                candidate = key + lowered[len(alias):]
                if candidate in names:
                    return candidate
    return None


def suggestion(name: str, names) -> str:
    """``"; that is GenImage's name for generator 'sdv14': use 'sdv14'"`` for one of GenImage's own names
    (:func:`keyed`), else the closest names (:func:`closest`)."""
    key = keyed(name, names)
    if key:
        return f"; that is GenImage's name for generator {key.split('-')[0]!r}: use {key!r}"
    return closest(name, names)


def resolve(name, corrupted: bool = False) -> str:
    """The config called ``name``, compared without case; an unknown name fails naming the closest ones
    (for GenImage's own folder name of a generator, the config with its key).
    With ``corrupted``, the corrupted test copies' configs (``<config>-<corruption>``) are names too."""
    names = set(config_parts()) | (set(corrupted_configs()) if corrupted else set())
    if not isinstance(name, str):
        raise ValueError(f"a config name is needed (e.g. config_name='sdv14'), one of: {listing(corrupted)}")
    if name.lower() in names:
        return name.lower()
    raise ValueError(f"unknown config {name!r}{suggestion(name, names)}; configs: {listing(corrupted)}")


def corrupted_config_name(name: str, corruption: str) -> str:
    return f"{name}-{corruption}"


def corrupted_configs() -> dict[str, tuple[str, str]]:
    """``<config>-<corruption>`` -> (config, corruption): the test split's corrupted copy of every config."""
    return {corrupted_config_name(name, c): (name, c) for name in config_parts() for c in corruption_recipe.CORRUPTIONS}


def describe(name: str) -> str:
    generators = tables.generators()
    pairs = config_parts()[name]
    if name == DISJOINT:
        return "GenImage-Disjoint: task k from generator k of the release's task order (" + ", ".join(
            generators[g].display_name for g, _ in pairs
        ) + ")"
    if name == DISJOINT_REVERSED:
        return "The paper's reversed benchmark: task k from generator k of (" + ", ".join(
            generators[g].display_name for g, _ in pairs
        ) + "), not GenImage-Disjoint played backwards"
    generator = generators[pairs[0][0]].display_name
    if len(pairs) == 1:
        return f"{generator}, task {pairs[0][1]} only (100 classes)"
    return f"{generator}, six tasks of 100 classes each"
