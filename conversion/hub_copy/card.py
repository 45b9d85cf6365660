"""The Hub copy's README.md: YAML metadata (configs, dataset_info, license and gate) and the body from
``dataset_card/``, with facts from ``dictionaries/dataset.json``."""

from __future__ import annotations

import string
from pathlib import Path

from conversion.contract import tables
from conversion.hub_copy import card_tables
from conversion.sources import kinds, raw_tree

TEMPLATE = Path(__file__).resolve().parents[2] / "dataset_card" / "template.md"
DEFAULT_REPO_ID = "<user>/genimage-cl"
"""What the card's snippets say when publish is given no ``--repo-id`` (``--repo-id`` with ``--dry-run``
names the repository without uploading)."""

_FACTS = tables.dataset_facts()
METADATA = {
    **_FACTS["card_metadata"],
    "license": _FACTS["hub_license"],
    "license_name": _FACTS["license_name"],
    "license_link": _FACTS["license_link"],
    "extra_gated_prompt": tables.gate_prompt(),
}


def publisher_notes(repo_id: str | None) -> list[str]:
    """What the card could not say, with what to do: one line each (printed after publish's summary)."""
    notes = []
    if not repo_id:
        notes.append(f"card: its snippets say {DEFAULT_REPO_ID}: name the repository with --repo-id USER/NAME "
                     f"--dry-run (writes the card, uploads nothing)")
    if card_tables.project_url(card_tables.project_urls()) is None:
        notes.append("card: the project sets no [project.urls] in pyproject.toml, so the card cannot say where the "
                     "genimage-cl code is: add e.g. Repository = \"https://...\", pip install -e . again, re-run "
                     "publish")
    return notes


DEFAULT_CONFIG = "disjoint"
"""GenImage-Disjoint, the paper's headline benchmark: what ``load_dataset(repo)`` with no name gives."""


def default_config(declared) -> str | None:
    """``disjoint`` if declared, else the first config with most tasks (a copy of part of the release)."""
    if DEFAULT_CONFIG in declared:
        return DEFAULT_CONFIG
    return max(declared, key=lambda name: len(declared[name]), default=None)


def default_config_text(declared, repo_id: str) -> str:
    """The card's sentence saying which configuration is the default, and why."""
    name = default_config(declared)
    if name == DEFAULT_CONFIG:
        return (f"The default configuration is `{name}` (GenImage-Disjoint, the paper's headline benchmark): "
                f"`load_dataset(\"{repo_id}\")` without a configuration name, and tools that pass none (timm's "
                f"`hfds/` datasets), load it.")
    return (f"The default configuration is `{name}`: this copy does not hold every part of `{DEFAULT_CONFIG}` "
            f"(GenImage-Disjoint, otherwise the default), and `{name}` is the largest configuration it declares.")


def size_category(rows: int) -> str:
    bounds = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
              (10_000_000, "1M<n<10M")]
    return next((name for bound, name in bounds if rows < bound), "10M<n<100M")


def _config_rows(mirror, names: list[str]) -> list[str]:
    header = "| config | tasks | train nature | train ai | test nature | test ai | rows |"
    lines = [header, "|---|---|---:|---:|---:|---:|---:|"]
    for name in names:
        parts = mirror.configs[name]
        cells = [sum(p.splits[split]["sources"][source] for p in parts) for split in ("train", "test")
                 for source in tables.SOURCES]
        several = len({p.generator for p in parts}) > 1  # disjoint, disjoint-reversed: name each generator
        tasks = ", ".join(f"{p.generator}/{p.task}" if several else str(p.task) for p in parts)
        lines.append(f"| `{name}` | {tasks} | " + " | ".join(f"{n:,}" for n in cells) + f" | {sum(cells):,} |")
    return lines


def configs_table(mirror) -> str:
    """Generators and ``disjoint`` in one table; the one-task configs (counts per task) in a collapsed one."""
    single = [name for name, parts in mirror.configs.items() if len(parts) == 1]
    lines = _config_rows(mirror, [name for name in mirror.configs if name not in single])
    if single:
        lines += ["", "<details>", f"<summary>Counts per task: the {len(single)} one-task configurations</summary>",
                  "", *_config_rows(mirror, single), "", "</details>"]
    return "\n".join(lines)


BUILT_FROM = {
    kinds.RELEASE: "the CL tensor release itself (every row checked bit for bit against its X.pt)",
    kinds.RAW_TREE: "the raw GenImage files, through the release's pixel pipeline",
}


RELEASE_PIXELS = """The images
are the pixels of the original tensor release ("Minimizing Data, Maximizing Performance:
Generative Examples for Continual Task Learning", OpenReview CRyJiF03eT), stored losslessly as PNG
in Parquet: re-normalizing them gives the release's float32 tensors bit for bit."""
"""The card's words on a copy of the release's pixels (as the card has always said it)."""
RELEASE = "the original tensor release (\"Minimizing Data, Maximizing Performance: Generative Examples for Continual " \
          "Task Learning\", OpenReview CRyJiF03eT)"
CHECKED = {
    "decode": "Every file was decoded in full before it was stored.",
    "structure": "Every file's structure was checked before it was stored (PNG chunks and their CRCs, JPEG "
                 "markers); files were not decoded.",
    "none": "Files were stored as read, checked only for an image signature.",
}
"""How every stored file of a copy of the original files was checked (the builder's ``check``)."""

TORCH_USAGE = """```python
import torch
from torch.utils.data import DataLoader

repo = "$repo_id"
train = load_dataset(repo, "sdv14-task0", split="train")
loader = DataLoader(train.with_format("torch"), batch_size=256, shuffle=True)
batch = next(iter(loader))    # "image": uint8 [256, 3, $size, $size]; "label", "task_label", ...
```"""
PAPER_TENSORS = """To get the release's tensors back (normalized float32 `X`, `y` = clsloc id - 1, per task and
source) for training code written for `X.pt`/`y.pt`, the project's `conversion.uses.tensors` helper does:

```python
from conversion.uses.tensors import paper_tensors
tensors = paper_tensors(ds["train"], labels="clsloc")    # {(task, source): (X, y)}
X, y = tensors[0, "ai"]
```"""
TORCH_USAGE_ORIGINAL = """Images differ in size, so torch's default collate cannot stack them: the project's
`conversion.uses.collate.images_as_list` keeps them as a list and stacks the other columns:

```python
import torch
from torch.utils.data import DataLoader
from conversion.uses.collate import images_as_list

repo = "$repo_id"
train = load_dataset(repo, "sdv14-task0", split="train")
loader = DataLoader(train.with_format("torch"), batch_size=256, shuffle=True,
                    collate_fn=images_as_list)
batch = next(iter(loader))
# "image": a list of 256 uint8 tensors (sizes differ); "label", "task_label", ... stacked
```"""


def image_text(image_size, check: str, repo_id: str) -> dict[str, str]:
    """The card's words on the images of a copy built with ``image_size`` and ``check``: the release's
    64x64 pixels, another size made the same way, or the original files (from a raw tree only)."""
    size = tables.release_pixels()["image_size"]
    if image_size == raw_tree.ORIGINAL:
        return {
            "image_words": "at full resolution",
            "pixels": f"The images are GenImage's own files, untouched (their bytes, at full resolution), stored "
                      f"in Parquet; {RELEASE} holds {size}x{size} versions of them. {CHECKED[check]}",
            "image_column": "the original file's bytes (full resolution)",
            "built_from": "the raw GenImage files, their bytes untouched",
            "torch_usage": string.Template(TORCH_USAGE_ORIGINAL).substitute(repo_id=repo_id),
        }
    usage = string.Template(TORCH_USAGE).substitute(repo_id=repo_id, size=image_size)
    if image_size == size:
        return {"image_words": f"{size}x{size}", "pixels": RELEASE_PIXELS,
                "image_column": f"PNG {size}x{size} RGB: the release's pixels",
                "torch_usage": f"{usage}\n\n{PAPER_TENSORS}"}
    return {
        "image_words": f"{image_size}x{image_size}",
        "pixels": f"The images are made as {RELEASE} made its {size}x{size} pixels, at {image_size}x{image_size} "
                  f"instead, and stored as PNG in Parquet: they are not the release's pixels.",
        "image_column": f"PNG {image_size}x{image_size} RGB (the release's pixel pipeline at {image_size} px)",
        "torch_usage": usage,
    }


NO_DIFFERENCES = ("## Differences from the original release\n\nNone: this copy was converted from the release's "
                  "tensors row for row, so it holds exactly the images the release holds, and no file was left out.")


def _link(mirror, path: Path, alt: str) -> str:
    return f"![{alt}]({path.relative_to(mirror.out).as_posix()})"


def figures_section(mirror) -> str:
    """Per generator: its sample grid, then its balance charts per task in a collapsed block."""
    lines = []
    for generator, drawn in mirror.figures.items():
        display = tables.generators()[generator].display_name
        lines += [f"### {display} (`{generator}`)", ""]
        if drawn["samples"] is not None:
            lines += [_link(mirror, drawn["samples"], f"{display}: natural and AI-generated images, same class"), ""]
        elif not drawn.get("left_out"):  # a figure that could not be drawn is simply absent
            lines += ["No sample grid: no class has both a natural and an AI-generated train image.", ""]
        lines += ["<details>", f"<summary>Class balance of {display}'s tasks</summary>", ""]
        for task, path in drawn["balance"].items():
            lines += [_link(mirror, path, f"{display} task {task}: images per class"), ""]
        lines += ["</details>", ""]
    return "\n".join(lines).rstrip()


def corrupted_section(mirror) -> str:
    """The corrupted test copies: what they are, how each was made, their configs and a figure."""
    from conversion.pixels import corruption_recipe

    if not mirror.corrupted_configs:
        return ""
    names = list(mirror.corrupted_configs)
    example = next((n for n in names if n.startswith("disjoint-")), names[0])
    lines = [
        "## Corrupted test copies (robustness)",
        "",
        "The release's robustness tests use corrupted copies of test parts, `X_<corruption>.pt`. Each is one "
        "config `<config>-<corruption>` with one split, `test`: per task and source, the first floor(N / 10) * 10 "
        "test rows (as the paper's loader keeps them), in the release's order. `pixels` replaces `image`: the "
        "copy's float32 values `[3, 64, 64]`, bit for bit, unnormalized (in [0, 1] except for noise); the other "
        "columns are those of the clean rows they come from (same `file_name`). "
        "`conversion.uses.tensors.paper_tensors(ds)` gives back `{(task, source): (X, y)}` equal to the "
        "release's files.",
        "",
        "How each was made (one run per corruption, task and source; `random`, NumPy and torch seeded with 1; "
        "rows unnormalized with `x * std + mean` in float32; then image by image, severity 3):",
        "",
        *[f"- `{name}`: {corruption_recipe.DESCRIPTIONS[name]}" for name in corruption_recipe.CORRUPTIONS],
        "",
        f"The {len(names)} configs:",
        "",
        card_tables.corrupted_table(mirror.corrupted_configs),
        "",
        f"Stored as Parquet with BYTE_STREAM_SPLIT and zstd: {mirror.corrupted_bytes():,} bytes for "
        f"{mirror.corrupted_rows():,} rows.",
        "",
        "```python",
        "from conversion.uses.tensors import paper_tensors",
        "",
        'repo = "$repo_id"',
        f'noisy = load_dataset(repo, "{example}", split="test")',
        f'X, y = paper_tensors(noisy)[{mirror.corrupted_configs[example][0].task}, "ai"]'
        '   # X as X_<corruption>.pt, y its rows of y.pt',
        "```",
    ]
    if mirror.corrupted_figure is not None:
        lines += ["", _link(mirror, mirror.corrupted_figure, "one test image, clean and under each corruption")]
    return "\n".join(lines)


def timm_folders_text(mirror) -> str:
    """The card's list of every task's folder, what timm's ``hfds/`` reader (which takes no configuration
    name) is pointed at to read one task, and which ``target_key`` gives which label."""
    parts = sorted({(p.generator, p.task) for parts in mirror.configs.values() for p in parts})
    folders = {}
    for generator, task in parts:
        folders.setdefault(generator, []).append(f"data/{generator}/task{task}")
    example = folders[parts[0][0]][0] if parts else "data/<generator>/task<k>"
    return "\n".join([
        "To read one task with timm, point `hfds/` at its folder in a local copy (`hf download "
        f"$repo_id --repo-type dataset --local-dir genimage-cl`, then `create_dataset(\"hfds/genimage-cl/{example}\", "
        "split=\"train\")`). Every task's folder:", "",
        *(f"- {generator}: " + ", ".join(f"`{folder}`" for folder in found) for generator, found in folders.items()),
        "", "`target_key` picks the label: `\"label\"` (default, the ImageNet-1k index), `\"task_label\"` (0..99 "
        "within the task) or `\"source\"` (0 nature, 1 ai: real-versus-generated detection).",
    ])


def render(card_data, mirror, repo_id: str = DEFAULT_REPO_ID, differences: str | None = None) -> str:
    """README.md text: ``card_data`` as YAML front matter, then the template filled in from ``mirror``.

    ``differences`` is the section on differences from the release (built from a raw tree); a copy
    of the release itself has none, and says so.
    """
    card_data["size_categories"] = [size_category(mirror.rows())]
    body = string.Template(TEMPLATE.read_text()).substitute(
        configs_table=configs_table(mirror),
        default_config=default_config_text(mirror.configs, repo_id),
        rows=f"{mirror.rows():,}",
        parquet_bytes=f"{mirror.parquet_bytes():,}",
        task_order=", ".join(tables.generators()[k].display_name for k in tables.task_order()),
        reversed_order=", ".join(tables.generators()[k].display_name
                                 for k in tables.paper_orders()["reversed"]["generators"]),
        repo_id=repo_id,
        figures=figures_section(mirror),
        differences=(differences or NO_DIFFERENCES).strip(),
        corrupted=string.Template(corrupted_section(mirror)).safe_substitute(repo_id=repo_id),
        timm_folders=string.Template(timm_folders_text(mirror)).safe_substitute(repo_id=repo_id),
        **{"built_from": BUILT_FROM[mirror.source_kind], **image_text(mirror.image_size, mirror.check, repo_id)},
        license=_FACTS["license"],
        terms=card_tables.terms_list(_FACTS["terms"]),
        sources=card_tables.sources_list(_FACTS["sources"]),
        project=card_tables.project_text(),
        class_names=card_tables.class_names_table(sorted({p.task for p in mirror.parts})),
        data_instance=card_tables.data_instance(mirror, default_config(mirror.configs)),
        citation=tables.citation().strip(),
    )
    return f"---\n{card_data.to_yaml()}\n---\n\n{body}"
