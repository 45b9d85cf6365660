"""A DataLoader's batch fetched at once from Avalanche's and Continuum's datasets: what fetching row by row gives."""

from __future__ import annotations

import copy
import pickle

import pytest

pytest.importorskip("torchvision", reason="the CL environment (requirements-cl.txt, .ci/cl.sh) runs these")
pytest.importorskip("avalanche", reason="the CL environment (requirements-cl.txt, .ci/cl.sh) runs these")
pytest.importorskip("continuum", reason="the CL environment (requirements-cl.txt, .ci/cl.sh) runs these")

import torch  # noqa: E402
from torchvision.transforms import v2  # noqa: E402

from conversion.uses import avalanche_batches, cl_libraries, continuum_batches  # noqa: E402

INDICES = [2, 0, 3, 1, 2]


def same_rows(got, expected) -> bool:
    return len(got) == len(expected) and all(
        len(g) == len(e) and torch.equal(g[0], e[0]) and list(g[1:]) == list(e[1:]) and type(g[1]) is type(e[1])
        for g, e in zip(got, expected))


def _calls(monkeypatch, module, name) -> list:
    calls, original = [], getattr(module, name)

    def counted(*args):
        result = original(*args)
        calls.append(result is not None)
        return result

    monkeypatch.setattr(module, name, counted)
    return calls


@pytest.mark.parametrize("preprocess", [None, "normalized", "unnormalized"])
@pytest.mark.parametrize("scenario", ["class", "task"])
def test_avalanche_batches_equal_its_rows(ds, preprocess, scenario, monkeypatch):
    benchmark = cl_libraries.avalanche_benchmark(ds, scenario=scenario, preprocess=preprocess)
    calls = _calls(monkeypatch, avalanche_batches, "_pairs_rows")
    for stream in (benchmark.train_stream, benchmark.test_stream):
        dataset = stream[1].dataset
        assert same_rows(dataset.__getitems__(INDICES), [dataset[i] for i in INDICES])
        subset = dataset.subset([3, 1, 2])
        assert same_rows(subset.__getitems__([2, 0]), [dataset[2], dataset[3]])
        for derived in (dataset.eval(), copy.copy(dataset), pickle.loads(pickle.dumps(dataset))):
            assert same_rows(derived.__getitems__(INDICES), [dataset[i] for i in INDICES])
    assert calls and all(calls), "every batch above was one gather"


def test_avalanche_falls_back_to_rows_under_its_transform_groups(ds, monkeypatch):
    flip = v2.Compose([v2.RandomHorizontalFlip(p=1.0), v2.ToDtype(torch.float32, scale=True)])
    given = cl_libraries.avalanche_benchmark(ds, transform=flip).train_stream[0].dataset
    added = cl_libraries.avalanche_benchmark(ds).train_stream[0].dataset.replace_current_transform_group(flip)
    concatenated = cl_libraries.avalanche_benchmark(ds).train_stream[0].dataset.concat(
        cl_libraries.avalanche_benchmark(ds).train_stream[1].dataset)
    calls = _calls(monkeypatch, avalanche_batches, "_pairs_rows")
    for dataset in (given, added, concatenated):
        batch = dataset.__getitems__(INDICES) if hasattr(dataset, "__getitems__") else None
        if batch is not None:
            assert same_rows(batch, [dataset[i] for i in INDICES])
    assert calls == [False, False] or calls == [False, False, False], calls
    unit = cl_libraries.avalanche_benchmark(ds).train_stream[0].dataset[0][0]
    assert torch.allclose(given[0][0], torch.flip(unit, [2])) and not torch.allclose(given[0][0], unit)


def test_avalanche_loader_uses_the_batch_fetch(ds, monkeypatch):
    dataset = cl_libraries.avalanche_benchmark(ds, preprocess="normalized").train_stream[0].dataset
    calls = _calls(monkeypatch, avalanche_batches, "_pairs_rows")
    batches = list(torch.utils.data.DataLoader(dataset, batch_size=4, collate_fn=dataset.collate_fn))
    assert len(calls) == len(batches) and all(calls)
    images = torch.cat([batch[0] for batch in batches])
    assert torch.equal(images, torch.stack([dataset[i][0] for i in range(len(dataset))]))


@pytest.mark.parametrize("preprocess", [None, "normalized", "unnormalized"])
@pytest.mark.parametrize("split", ["train", "test"])
def test_continuum_batches_equal_its_rows(ds, preprocess, split, monkeypatch):
    scenario = cl_libraries.continuum_scenario(ds, split=split, preprocess=preprocess)
    calls = _calls(monkeypatch, continuum_batches, "_batch_transform")
    for task_set in (scenario[1], pickle.loads(pickle.dumps(scenario))[1], copy.copy(scenario[1])):
        assert same_rows(task_set.__getitems__(INDICES), [task_set[i] for i in INDICES])
    assert calls and all(calls), "every batch above was one gather"
    loaded = list(torch.utils.data.DataLoader(scenario[2], batch_size=4))
    rows = [scenario[2][i][0] for i in range(len(scenario[2]))]
    assert torch.equal(torch.cat([b[0] for b in loaded]), torch.stack(rows))


def test_continuum_falls_back_to_rows_for_other_transformations(ds, monkeypatch):
    from torchvision.transforms import PILToTensor, RandomHorizontalFlip

    scenario = cl_libraries.continuum_scenario(ds, transformations=[RandomHorizontalFlip(p=1.0), PILToTensor()])
    calls = _calls(monkeypatch, continuum_batches, "_batch_transform")
    task_set = scenario[0]
    assert same_rows(task_set.__getitems__(INDICES), [task_set[i] for i in INDICES])
    assert calls == [False]


@pytest.mark.parametrize("cache_inputs", [True, False])
def test_the_builders_read_the_inputs_computed_once_unless_told_not_to(ds, cache_inputs):
    benchmark = cl_libraries.avalanche_benchmark(ds, preprocess="normalized", cache_inputs=cache_inputs)
    pairs = benchmark.train_stream[1].dataset._flat_data._datasets[0]
    assert (pairs.inputs is not None) is cache_inputs
    scenario = cl_libraries.continuum_scenario(ds, preprocess="normalized", cache_inputs=cache_inputs)
    task_set = scenario[1]
    assert ("normalized" in task_set._x.inputs) is cache_inputs
    assert same_rows(task_set.__getitems__(INDICES), [task_set[i] for i in INDICES])
    reference = cl_libraries.continuum_scenario(ds, preprocess="normalized", cache_inputs=not cache_inputs)[1]
    assert same_rows(task_set.__getitems__(INDICES), reference.__getitems__(INDICES))
