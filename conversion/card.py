"""The Hub copy's README.md: YAML metadata (configs, dataset_info) and the body from ``dataset_card/``."""

from __future__ import annotations

import string
from pathlib import Path

from conversion import sources, tables

TEMPLATE = Path(__file__).resolve().parent.parent / "dataset_card" / "template.md"
DEFAULT_REPO_ID = "<user>/genimage-cl"

METADATA = {
    "pretty_name": "GenImage-CL",
    "license": "cc-by-nc-sa-4.0",
    "task_categories": ["image-classification"],
    "tags": ["continual-learning", "ai-generated-image-detection", "imagenet", "genimage"],
}


def size_category(rows: int) -> str:
    bounds = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
              (10_000_000, "1M<n<10M")]
    return next((name for bound, name in bounds if rows < bound), "10M<n<100M")


def configs_table(mirror) -> str:
    header = "| config | tasks | train nature | train ai | test nature | test ai | rows |"
    lines = [header, "|---|---|---:|---:|---:|---:|---:|"]
    for name, parts in mirror.configs.items():
        cells = [sum(p.splits[split]["sources"][source] for p in parts) for split in ("train", "test")
                 for source in tables.SOURCES]
        tasks = ", ".join(f"{p.generator}/{p.task}" for p in parts) if name == "disjoint" else \
            ", ".join(str(p.task) for p in parts)
        lines.append(f"| `{name}` | {tasks} | " + " | ".join(f"{n:,}" for n in cells) + f" | {sum(cells):,} |")
    return "\n".join(lines)


BUILT_FROM = {
    sources.RELEASE: "the CL tensor release itself (every row checked bit for bit against its X.pt)",
    sources.RAW_TREE: "the raw GenImage files, through the release's pixel pipeline",
}


def render(card_data, mirror, repo_id: str = DEFAULT_REPO_ID, source_kind: str = sources.RELEASE) -> str:
    """README.md text: ``card_data`` as YAML front matter, then the template filled in from ``mirror``."""
    from genimage_cl import _CITATION, _LICENSE

    card_data["size_categories"] = [size_category(mirror.rows())]
    body = string.Template(TEMPLATE.read_text()).substitute(
        configs_table=configs_table(mirror),
        rows=f"{mirror.rows():,}",
        parquet_bytes=f"{mirror.parquet_bytes():,}",
        task_order=", ".join(tables.generators()[k].display_name for k in tables.task_order()),
        repo_id=repo_id,
        built_from=BUILT_FROM[source_kind],
        license=_LICENSE,
        citation=_CITATION.strip(),
    )
    return f"---\n{card_data.to_yaml()}\n---\n\n{body}"
