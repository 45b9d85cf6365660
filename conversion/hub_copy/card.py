"""The Hub copy's README.md: YAML metadata (configs, dataset_info) and the body from ``dataset_card/``."""

from __future__ import annotations

import string
from pathlib import Path

from conversion.contract import tables
from conversion.sources import kinds

TEMPLATE = Path(__file__).resolve().parents[2] / "dataset_card" / "template.md"
DEFAULT_REPO_ID = "<user>/genimage-cl"

METADATA = {
    "pretty_name": "GenImage-CL",
    "license": tables.dataset_facts()["hub_license"],
    "task_categories": ["image-classification"],
    "tags": ["continual-learning", "ai-generated-image-detection", "imagenet", "genimage"],
}


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
        tasks = ", ".join(f"{p.generator}/{p.task}" for p in parts) if name == "disjoint" else \
            ", ".join(str(p.task) for p in parts)
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
        "`conversion.uses.tensors.paper_tensors(ds)` gives back `{(task, source): (X, y)}` equal to the release's files.",
        "",
        "How each was made (one run per corruption, task and source; `random`, NumPy and torch seeded with 1; "
        "rows unnormalized with `x * std + mean` in float32; then image by image, severity 3):",
        "",
        *[f"- `{name}`: {corruption_recipe.DESCRIPTIONS[name]}" for name in corruption_recipe.CORRUPTIONS],
        "",
        "Configs: " + ", ".join(f"`{n}`" for n in names) + ".",
        "",
        f"Stored as Parquet with BYTE_STREAM_SPLIT and zstd: {mirror.corrupted_bytes():,} bytes for "
        f"{mirror.corrupted_rows():,} rows.",
        "",
        "```python",
        "from conversion.uses.tensors import paper_tensors",
        "",
        f'noisy = load_dataset("$repo_id", "{example}", split="test")',
        f'X, y = paper_tensors(noisy)[{mirror.corrupted_configs[example][0].task}, "ai"]   # X as X_<corruption>.pt, y its rows of y.pt',
        "```",
    ]
    if mirror.corrupted_figure is not None:
        lines += ["", _link(mirror, mirror.corrupted_figure, "one test image, clean and under each corruption")]
    return "\n".join(lines)


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
        repo_id=repo_id,
        built_from=BUILT_FROM[mirror.source_kind],
        figures=figures_section(mirror),
        differences=(differences or NO_DIFFERENCES).strip(),
        corrupted=string.Template(corrupted_section(mirror)).safe_substitute(repo_id=repo_id),
        license=tables.dataset_facts()["license"],
        citation=tables.citation().strip(),
    )
    return f"---\n{card_data.to_yaml()}\n---\n\n{body}"
