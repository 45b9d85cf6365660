"""The paper loader's exact view (docs/paper-loader.md#loader-rules) on streams and paper_tensors, and per-task sources.

A release with 12 rows per (task, split, source) is written from a sample tree; the paper's loader
is re-done here from its X.pt/y.pt (first floor(N / 10) * 10 rows, labels ranked) and compared.
The rules are re-implemented below from docs/paper-loader.md and the paper's public
``src/AuxiliaryScripts/cldatasets.py`` (``get_Synthetic``: its two task orders, by folder name) and
``src/main-steps.py`` (one source per task, each task tested on its own source) of JoshuaAndle/EpochLoss_CL,
and compared row by row with the package's views, in both orders, on a tensor release and on a raw tree;
each comparison prints ``0 mismatches over N rows`` (run with ``-s`` to see them).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conversion.contract import tables
from conversion.samples.genimage_tree import make_sample_tree
from conversion.samples.tensor_release import make_sample_release, release_folder
from conversion.uses import streams
from conversion.uses.tensors import paper_tensors


@pytest.fixture(scope="module")
def paper_release(tmp_path_factory):
    root = tmp_path_factory.mktemp("paper")
    tree = make_sample_tree(root / "GenImage", generators=["sdv14"], images_per_class=6)
    return make_sample_release(tree, root / "release", generators=["sdv14"])


@pytest.fixture(scope="module")
def paper_ds(paper_release, build):
    return build("sdv14", paper_release)


def _paper_loader(release, task, split, source):
    """The paper's loader on one pair: first floor(N/10)*10 rows, y as rank among its unique values."""
    folder = release_folder(release, "original", "sdv14", task, split, source)
    x = torch.load(folder / "X.pt", weights_only=True)
    y = torch.load(folder / "y.pt", weights_only=True)
    keep = len(y) // 10 * 10
    ranks = np.unique(y[:keep].numpy(), return_inverse=True)[1]
    return x[:keep], torch.from_numpy(ranks.astype(np.int64))


def test_paper_tensors_equal_the_papers_loader(paper_release, paper_ds):
    parts = paper_tensors(paper_ds["train"], paper_loader=True)
    assert sorted(parts) == sorted((t, s) for t in range(6) for s in tables.SOURCES)
    for (task, source), (x, y) in parts.items():
        expected_x, expected_y = _paper_loader(paper_release, task, "train", source)
        assert len(y) == 10
        assert torch.equal(x, expected_x) and torch.equal(y, expected_y)


def test_stream_views_hold_the_papers_rows_and_ranks(paper_release, paper_ds):
    stream = streams.tasks(paper_ds, paper_loader=True, source="ai")
    for task in stream:
        for split in ("train", "test"):
            view = task.splits[split]
            x, y = _paper_loader(paper_release, task.index, split, "ai")
            names = view["file_name"]
            assert len(names) == 10 and [int(n.rsplit("/", 1)[1]) for n in names] == list(range(10))
            ranks = [task.ranks[split][t] for t in view["task_label"]]
            assert ranks == y.tolist()
            u8 = torch.stack([torch.from_numpy(np.array(r["image"])).permute(2, 0, 1) for r in view])
            (key, (x_view, _)), = paper_tensors(view, dtype="uint8").items()   # a view with an indices mapping
            assert key == (task.index, "ai") and torch.equal(u8, x_view)


def test_per_task_sources_and_natural_test_stream(paper_ds):
    chosen = ["ai", "ai", "nature", "nature", "nature", "nature"]
    stream = streams.tasks(paper_ds, order="backwards", sources=chosen)
    for task, source in zip(stream, chosen):
        assert set(task.train["source"]) == {tables.SOURCES.index(source)}
        assert set(task.test["source"]) == {tables.SOURCES.index("nature")}
    asked = streams.tasks(paper_ds, sources=chosen, test_source="ai")
    assert all(set(t.test["source"]) == {tables.SOURCES.index("ai")} for t in asked)
    with pytest.raises(streams.StreamError, match="one per task"):
        streams.tasks(paper_ds, sources=["ai"] * 5)
    with pytest.raises(streams.StreamError, match="sources entries"):
        streams.tasks(paper_ds, sources=["ai"] * 5 + ["real"])


def test_one_split_fails_at_once(paper_ds, monkeypatch):
    import datasets

    def no_iteration(self):
        raise AssertionError("tasks() iterated the rows")

    monkeypatch.setattr(datasets.Dataset, "__iter__", no_iteration)
    with pytest.raises(streams.StreamError) as error:
        streams.tasks(paper_ds["train"])
    message = str(error.value)
    assert "DatasetDict" in message and "\n" not in message and len(message) < 200


def test_paper_tensors_clear_errors(paper_ds):
    with pytest.raises(ValueError, match=r"one split .*'train', 'test'"):
        paper_tensors(paper_ds)
    with pytest.raises(ValueError, match="no rows of task=7"):
        paper_tensors(paper_ds["train"], task=7)
    only_ai = streams.tasks(paper_ds, source="ai")[2].train
    with pytest.raises(ValueError, match=r"no rows of source='nature' .*\(2, 'ai'\)"):
        paper_tensors(only_ai, source="nature")


PAPER_ORDERS = {
    "standard": ("ADM", "BigGAN", "Midjourney", "glide", "stable_diffusion_v_1_4", "VQDM"),
    "reversed": ("VQDM", "stable_diffusion_v_1_4", "glide", "Midjourney", "BigGAN", "ADM"),
}
"""get_Synthetic's generator folder at each task position: ``order="standard"``, and any other order."""
CONFIG_OF_ORDER = {"standard": "disjoint", "reversed": "disjoint-reversed"}
ROWS_KEPT = 10
"""Rows the paper's loader keeps of each 12-row (task, split, source) of the trees below."""


def get_synthetic(read, task_num, split, modifier, order="standard"):
    """The paper's ``get_Synthetic`` rules on one task: the generator at ``task_num`` of the order, folder
    ``task_num`` (class set ``task_num``), split ``valid`` read as ``val``; the first floor(N / 10) * 10 rows of
    X and y; y relabelled as its rank among the sorted distinct values kept. ``read(folder, task, split, source)``
    gives that folder's (X, y): the release's tensors, or a raw tree's rows in the contract's order."""
    folder = PAPER_ORDERS["standard" if order == "standard" else "reversed"][task_num]
    x, y = read(folder, task_num, "val" if split == "valid" else split, modifier)
    keep = len(y) // 10 * 10
    x, y = x[:keep], y[:keep]
    rank = {value: new for new, value in enumerate(torch.unique(y).tolist())}
    return x, torch.tensor([rank[value] for value in y.tolist()], dtype=torch.int64)


def _key_of_folder(folder: str) -> str:
    return next(key for key, g in tables.generators().items() if g.top_folder == folder)


@pytest.fixture(scope="module")
def paper_tree(tmp_path_factory):
    """The six generators of the release, 12 images per (task, split, source)."""
    root = tmp_path_factory.mktemp("paper_orders")
    return make_sample_tree(root / "GenImage", generators=list(tables.task_order()), images_per_class=6)


@pytest.fixture(scope="module")
def paper_release6(paper_tree, tmp_path_factory):
    return make_sample_release(paper_tree, tmp_path_factory.mktemp("paper_orders_release") / "release")


def _release_reader(root):
    def read(folder, task, split, source):
        pair = release_folder(root, "original", _key_of_folder(folder), task, "test" if split == "val" else split,
                              source)
        return torch.load(pair / "X.pt", weights_only=True), torch.load(pair / "y.pt", weights_only=True)
    return read


def _raw_reader(tree, build):
    """A raw tree's "X" of one folder: its file names in the contract's row order (docs/contract.md#row-order:
    label, then file name), read from the generator's own config; y: clsloc id - 1, as y.pt."""
    def read(folder, task, split, source):
        rows = build(_key_of_folder(folder), tree)["test" if split == "val" else split]
        rows = rows.select_columns(["task", "source", "label", "file_name"])[:]
        cell = sorted((label, name) for t, s, label, name in zip(rows["task"], rows["source"], rows["label"],
                                                                 rows["file_name"])
                      if t == task and s == tables.SOURCES.index(source))
        clsloc = tables.clsloc_of_label()
        return [name for _, name in cell], torch.tensor([clsloc[label] - 1 for label, _ in cell], dtype=torch.int64)
    return read


def _mismatches(kind, task, split, view, expected_x, expected_y) -> tuple[int, int]:
    """(mismatching rows, rows compared) of one task view against the paper's (X, y); rows missing on
    either side count as mismatches."""
    got_y = [task.ranks[split][t] for t in view["task_label"]]
    if kind == "release":
        (x,) = [t.X for t in paper_tensors(view).values()] if len(view) else [torch.empty(0, 3, 64, 64)]
        same_x = [torch.equal(a.view(torch.int32), b.view(torch.int32)) for a, b in zip(x, expected_x)]
    else:
        same_x = [a == b for a, b in zip(view["file_name"], expected_x)]
    same = [sx and a == b for sx, a, b in zip(same_x, got_y, expected_y.tolist())]
    compared = max(len(view), len(expected_y))
    return compared - sum(same), compared


@pytest.fixture(scope="module")
def readers(paper_tree, paper_release6, build):
    return {"release": (paper_release6, _release_reader(paper_release6)),
            "raw": (paper_tree, _raw_reader(paper_tree, build))}


def _compare(stream, read, order, train_sources, test_sources, kind):
    mismatches = compared = 0
    for task in stream:
        for split, chosen in (("train", train_sources), ("test", test_sources)):
            x, y = get_synthetic(read, task.position, split, chosen[task.position], order)
            bad, n = _mismatches(kind, task, split, task.splits[split], x, y)
            mismatches, compared = mismatches + bad, compared + n
    return mismatches, compared


@pytest.mark.parametrize("kind", ["release", "raw"])
@pytest.mark.parametrize("order", ["standard", "reversed"])
def test_both_orders_match_the_papers_loader(order, kind, readers, build):
    root, read = readers[kind]
    ds = build(CONFIG_OF_ORDER[order], root)
    mismatches = compared = 0
    for source in tables.SOURCES:
        stream = streams.tasks(ds, order=order, source=source, paper_loader=True)
        assert [t.generator for t in stream] == [_key_of_folder(f) for f in PAPER_ORDERS[order]]
        bad, n = _compare(stream, read, order, [source] * 6, [source] * 6, kind)
        mismatches, compared = mismatches + bad, compared + n
    print(f"\npaper loader, order={order}, {kind}: {mismatches} mismatches over {compared} rows")
    assert (mismatches, compared) == (0, 6 * 2 * 2 * ROWS_KEPT)


@pytest.mark.parametrize("kind", ["release", "raw"])
@pytest.mark.parametrize("order", ["standard", "reversed"])
def test_substitution_with_per_task_test_sources_matches_the_papers_loader(order, kind, readers, build):
    """main-steps.py: the first m tasks train on AI images, the rest on natural ones, and each task is tested
    on its own source (``test_source`` = ``sources``); also every test on natural images (the default)."""
    root, read = readers[kind]
    ds = build(CONFIG_OF_ORDER[order], root)
    mismatches = compared = 0
    for m in range(7):
        chosen = ["ai"] * m + ["nature"] * (6 - m)
        for tested in (chosen, None):
            stream = streams.tasks(ds, order=order, sources=chosen, test_source=tested, paper_loader=True)
            bad, n = _compare(stream, read, order, chosen, tested or ["nature"] * 6, kind)
            mismatches, compared = mismatches + bad, compared + n
    print(f"\npaper loader substitution, order={order}, {kind}: {mismatches} mismatches over {compared} rows")
    assert (mismatches, compared) == (0, 7 * 2 * 6 * 2 * ROWS_KEPT)


@pytest.mark.parametrize("order", ["standard", "reversed"])
def test_paper_tensors_of_both_orders_match_the_papers_loader(order, readers, build):
    root, read = readers["release"]
    ds = build(CONFIG_OF_ORDER[order], root)
    mismatches = compared = 0
    for split in ("train", "test"):
        for (task, source), (x, y) in paper_tensors(ds[split], paper_loader=True).items():
            expected_x, expected_y = get_synthetic(read, task, split, source, order)
            same = [torch.equal(a.view(torch.int32), b.view(torch.int32)) and int(c) == int(d)
                    for a, b, c, d in zip(x, expected_x, y, expected_y)]
            mismatches += max(len(y), len(expected_y)) - sum(same)
            compared += max(len(y), len(expected_y))
    print(f"\npaper_tensors(paper_loader=True), order={order}: {mismatches} mismatches over {compared} rows")
    assert (mismatches, compared) == (0, 2 * 6 * 2 * ROWS_KEPT)


def test_the_comparison_sees_a_wrong_order(readers, build):
    """The re-implementation tells the orders apart: disjoint's stream read as the reversed benchmark differs."""
    root, read = readers["release"]
    stream = streams.tasks(build("disjoint", root), source="ai", paper_loader=True)
    mismatches, compared = _compare(stream, read, "reversed", ["ai"] * 6, ["ai"] * 6, "release")
    assert compared == 6 * 2 * ROWS_KEPT and mismatches == compared


def test_per_task_test_sources(paper_ds):
    chosen = ["ai", "nature", "ai", "nature", "both", "ai"]
    stream = streams.tasks(paper_ds, sources=["nature"] * 6, test_source=chosen)
    ids = {"ai": {1}, "nature": {0}, "both": {0, 1}}
    assert [set(t.test["source"]) for t in stream] == [ids[s] for s in chosen]
    assert all(set(t.train["source"]) == {0} for t in stream)
    same = streams.tasks(paper_ds, order="backwards", sources=chosen, test_source=tuple(chosen))
    assert [set(t.test["source"]) for t in same] == [set(t.train["source"]) for t in same] == [ids[s] for s in chosen]
    with pytest.raises(streams.StreamError, match="test_source has 5 entries, one per task is needed: the stream "
                                                  "has 6 tasks"):
        streams.tasks(paper_ds, test_source=["ai"] * 5)
    with pytest.raises(streams.StreamError, match=r"test_source entries must be among .*got 'real' \(entry 2\)"):
        streams.tasks(paper_ds, test_source=["ai", "ai", "real", "ai", "ai", "ai"])
    with pytest.raises(streams.StreamError, match="test_source must be one of"):
        streams.tasks(paper_ds, test_source="real")
    with pytest.raises(streams.StreamError, match="sources takes one source per task"):
        streams.tasks(paper_ds, sources="ai")
    with pytest.raises(streams.StreamError, match="test_source takes one source per task"):
        streams.tasks(paper_ds, test_source=3)
