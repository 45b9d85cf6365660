"""timm's hfds reader on the Hub copy, and torchvision v2 transforms through ``with_transform``."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torchvision", reason="the CL environment (requirements-cl.txt, .ci/cl.sh) runs these")
pytest.importorskip("timm", reason="the CL environment (requirements-cl.txt, .ci/cl.sh) runs these")

import datasets  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402
from timm.data import create_dataset  # noqa: E402
from torchvision.transforms import v2  # noqa: E402

from conversion.contract import tables  # noqa: E402
from conversion.uses import cl_libraries, paper_inputs, streams  # noqa: E402
from conversion.uses.torch_pairs import Pairs  # noqa: E402

TO_FLOAT = v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True)])


def _batches(dataset, **kwargs):
    images, labels = zip(*torch.utils.data.DataLoader(dataset, batch_size=3, num_workers=2, **kwargs))
    return torch.cat(images), torch.cat(labels).tolist()


def _expected(folder, split):
    rows = datasets.load_dataset(str(folder), split=split)
    images = torch.stack([TO_FLOAT(image) for image in rows["image"]])
    return images, rows["label"]


def test_timm_reads_a_task_folder_in_a_dataloader(hub_copy):
    folder = hub_copy / "data" / "sdv14" / "task3"
    dataset = create_dataset(f"hfds/{folder}", root=None, split="train")
    dataset.transform = TO_FLOAT
    images, labels = _batches(dataset)
    expected_images, expected_labels = _expected(folder, "train")
    assert len(dataset) == len(expected_labels) == 4
    assert labels == expected_labels and set(labels) <= set(tables.task_classes()[3])
    assert torch.equal(images, expected_images)


@pytest.mark.parametrize("target_key", ["label", "task_label", "source"])
def test_timm_target_keys_give_the_columns_labels(hub_copy, target_key):
    """What the README says of target_key: label the ImageNet-1k index, task_label 0..99, source 0 nature / 1 ai."""
    folder = hub_copy / "data" / "sdv14" / "task2"
    dataset = create_dataset(f"hfds/{folder}", root=None, split="test", target_key=target_key)
    rows = datasets.load_dataset(str(folder), split="test")
    assert [dataset[i][1] for i in range(len(dataset))] == list(rows[target_key])
    if target_key == "source":
        assert sorted(dataset.reader.class_to_idx.items()) == [("ai", 1), ("nature", 0)]


def _default_config(hub_copy):
    card = (hub_copy / "README.md").read_text().split("---")[1]
    return next((c["config_name"] for c in yaml.safe_load(card)["configs"] if c.get("default")), None)


def test_timm_reads_the_copys_default_config(hub_copy):
    default = _default_config(hub_copy)
    assert default is not None, "the card marks no config default: true"
    dataset = create_dataset(f"hfds/{hub_copy}", root=None, split="test")
    dataset.transform = TO_FLOAT
    _, labels = _batches(dataset)
    expected = datasets.load_dataset(str(hub_copy), default, split="test")["label"]
    assert labels == expected and len(labels) > 0


def test_torchvision_v2_through_with_transform(ds):
    flip_normalize = v2.Compose([v2.ToImage(), v2.RandomHorizontalFlip(p=1.0), v2.ToDtype(torch.float32, scale=True),
                                 v2.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])])
    task = streams.tasks(ds)[4]
    view = task.train.with_transform(lambda batch: {"image": [flip_normalize(image) for image in batch["image"]]})
    pairs = Pairs(view, target="class_il")
    images, targets = _batches(pairs)
    raw = torch.from_numpy(np.stack([np.array(image) for image in task.train["image"]])).permute(0, 3, 1, 2)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    assert images.dtype == torch.float32
    assert torch.allclose(images, (raw.flip(-1).float() / 255 - mean) / std, atol=1e-6)
    assert targets == [cl_libraries.class_order(streams.tasks(ds)).index(label) for label in task.train["label"]]


def test_pairs_says_when_a_views_transform_drops_the_image(ds):
    view = streams.tasks(ds)[0].train.with_transform(lambda batch: {"pixels": batch["image"]})
    with pytest.raises(KeyError, match="keep the 'image' key"):
        Pairs(view)[0]


def test_avalanche_takes_v2_transforms(ds):
    pytest.importorskip("avalanche")
    augment = v2.Compose([v2.RandomHorizontalFlip(p=1.0), v2.ToDtype(torch.float32, scale=True)])
    benchmark = cl_libraries.avalanche_benchmark(ds, transform=augment)
    x, _, _ = benchmark.train_stream[1].dataset[0]
    row = streams.tasks(ds)[1].train[0]
    assert torch.allclose(x, torch.from_numpy(np.array(row["image"])).permute(2, 0, 1).flip(-1).float() / 255,
                          atol=1e-6)
    eval_x, _, _ = cl_libraries.avalanche_benchmark(
        ds, transform=augment, eval_transform=paper_inputs.unit).test_stream[1].dataset[0]
    test_row = streams.tasks(ds)[1].test[0]
    assert torch.equal(eval_x, torch.from_numpy(np.array(test_row["image"])).permute(2, 0, 1).float() / 255)
