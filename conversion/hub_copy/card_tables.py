"""Pieces of the card's body made from the tables and the copy: links, terms, readable class names, one row
as an example, the corrupted configs, and where the project's code is (``[project.urls]`` of its pyproject.toml)."""

from __future__ import annotations

import io
import json

from conversion.contract import features, tables

DISTRIBUTION = "genimage-cl"
NO_PROJECT_URL = ("its repository is not named here: the publisher set no `[project.urls]` in the project's "
                  "pyproject.toml; ask for it in this repository's Community tab")
"""The card's words on the project's code when pyproject.toml names no repository."""


def project_urls() -> list[str]:
    """``[project.urls]`` of the installed genimage-cl (``Project-URL`` metadata: "Label, URL" each); none if
    it is not installed (an editable install reads pyproject.toml when installed: re-install after editing it)."""
    from importlib import metadata

    try:
        return metadata.metadata(DISTRIBUTION).get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        return []


def project_url(entries: list[str]) -> str | None:
    """The first of the ``project_url_keys`` (dictionaries/dataset.json) among ``entries`` ("Label, URL")."""
    by_key = {}
    for entry in entries:
        label, _, url = entry.partition(",")
        by_key.setdefault(label.strip().lower(), url.strip())
    return next((by_key[k.lower()] for k in tables.dataset_facts()["project_url_keys"] if by_key.get(k.lower())), None)


def project_text(entries: list[str] | None = None) -> str:
    """Where the genimage-cl project's code is, for the card's snippets that import it."""
    url = project_url(project_urls() if entries is None else entries)
    if url is None:
        return NO_PROJECT_URL
    return f"<{url}>; `pip install -e .` in a clone of it"


def sources_list(sources: list[dict]) -> str:
    return "\n".join(f"- {s['name']}: <{s['url']}>" for s in sources)


def terms_list(terms: list[dict]) -> str:
    return "\n".join(f"- [{t['name']}]({t['url']}): {t['covers']}." for t in terms)


def class_names_table(tasks: list[int]) -> str:
    """The classes of ``tasks`` with their readable names, in a collapsed block, task by task in ``task_label``
    order."""
    if not tasks:
        return ""
    rows = tables.class_rows()
    lines = ["<details>", f"<summary>Readable names of the {100 * len(tasks)} classes of tasks "
             f"{', '.join(map(str, tasks))}</summary>", "",
             "| task | task_label | label | wnid | readable name |", "|---:|---:|---:|---|---|"]
    for task in tasks:
        for position, label in enumerate(tables.task_classes()[task]):
            lines.append(f"| {task} | {position} | {label} | {rows[label][1]} | {rows[label][3]} |")
    return "\n".join([*lines, "", "</details>"])


def _image_words(cell: dict | None) -> str:
    from PIL import Image

    if not cell or not cell.get("bytes"):
        return "None"
    with Image.open(io.BytesIO(cell["bytes"])) as image:
        return f"<PIL.{type(image).__name__} image mode={image.mode} size={image.width}x{image.height}>"


def data_instance(mirror, config: str | None) -> str:
    """The first train row of ``config`` as ``ds["train"][0]`` gives it, each class-label value named (read
    from the first pages of its first non-empty shard, not the whole shard)."""
    row = next(filter(None, (_first_row(mirror.out / f["path"]) for p in mirror.configs.get(config) or []
                             for f in p.splits["train"]["files"])), None)
    if row is None:
        return "This copy holds no train row to show."
    names = features.features()
    lines = [f"The first train row of `{config}` (`ds[\"train\"][0]`):", "", "```python", "{"]
    for column, value in row.items():
        if column == "image":
            lines.append(f'    "image": {_image_words(value)},')
            continue
        kind = names[column]
        comment = ""
        if hasattr(kind, "int2str"):
            comment = f"  # {kind.int2str(value)}"
            if column == "label":
                comment += f" ({tables.readable_names()[value]})"
        lines.append(f'    "{column}": {json.dumps(value)},{comment}')
    return "\n".join([*lines, "}", "```"])


def _first_row(path) -> dict | None:
    from conversion.hub_copy import parquet_pages

    with parquet_pages.open_checked(path) as shard:
        batch = next(shard.iter_batches(batch_size=1), None)
    return batch.to_pylist()[0] if batch is not None and batch.num_rows else None


def corrupted_table(corrupted_configs: dict) -> str:
    """One line per corrupted config: the clean config it comes from, its corruption and its test rows."""
    from conversion.contract import configs

    of = configs.corrupted_configs()
    lines = ["| config | clean config | corruption | test rows |", "|---|---|---|---:|"]
    for name, parts in corrupted_configs.items():
        clean, corruption = of[name]
        rows = sum(p.corrupted[corruption]["num_examples"] for p in parts)
        lines.append(f"| `{name}` | `{clean}` | {corruption} | {rows:,} |")
    return "\n".join(lines)
