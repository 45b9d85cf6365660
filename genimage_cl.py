"""GenImage-CL: the GenImage continual-learning benchmark as a Hugging Face dataset.

Build a config from an unzipped GenImage tree::

    from genimage_cl import GenImageCL
    builder = GenImageCL(config_name="sdv14", data_dir="/data/GenImage")
    builder.download_and_prepare()
    ds = builder.as_dataset()

On datasets 3.6 the same file is a loading script:
``load_dataset("./genimage_cl.py", "sdv14", data_dir=..., trust_remote_code=True)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union

import datasets
from conversion import configs, features, sources

logger = datasets.logging.get_logger(__name__)

_CITATION = """\
@inproceedings{zhu2023genimage,
  title     = {GenImage: A Million-Scale Benchmark for Detecting AI-Generated Image},
  author    = {Zhu, Mingjian and Chen, Hanting and Yan, Qiangyu and Huang, Xudong and Lin, Guanyu
               and Li, Wei and Tu, Zhijun and Hu, Hailin and Hu, Jie and Wang, Yunhe},
  booktitle = {Advances in Neural Information Processing Systems (Datasets and Benchmarks Track)},
  year      = {2023},
  note      = {arXiv:2306.08571}
}
@misc{genimage_cl,
  title = {Minimizing Data, Maximizing Performance: Generative Examples for Continual Task Learning},
  note  = {OpenReview CRyJiF03eT}
}
"""

_DESCRIPTION = """\
GenImage-CL: AI-generated versus natural ImageNet images from GenImage's generators, split into six
continual-learning tasks of 100 disjoint ImageNet classes each (Tiny-ImageNet's 200 classes held
out). Labels are standard ImageNet-1k indices; images are the release's 64x64 pixels by default.
"""

_HOMEPAGE = "https://github.com/GenImage-Dataset/GenImage"

_LICENSE = "CC BY-NC-SA 4.0 with GenImage's non-commercial Dataset Terms; natural images under ImageNet's terms"

ORIGINAL = sources.ORIGINAL

_ITEMS_PER_SHARD = 1000
_VERSION = datasets.Version("1.0.0")


@dataclass
class GenImageCLConfig(datasets.BuilderConfig):
    """A sequence of (generator, task) parts, and the image size to store.

    Args:
        parts: the (generator key, task) pairs the config holds.
        image_size: side of the stored square images (64 reproduces the release), or
            ``"original"`` (or ``None``) to keep the source files untouched.
    """

    parts: tuple = ()
    image_size: Union[int, str] = 64

    def __post_init__(self):
        super().__post_init__()
        if self.image_size != ORIGINAL and not (isinstance(self.image_size, int) and self.image_size > 0):
            raise ValueError(f"image_size must be a positive integer or {ORIGINAL!r}, got {self.image_size!r}")


class GenImageCL(datasets.GeneratorBasedBuilder):
    """GenImage-CL: one config per generator (six tasks), per generator task, and ``disjoint``."""

    VERSION = _VERSION
    BUILDER_CONFIG_CLASS = GenImageCLConfig
    BUILDER_CONFIGS = [
        GenImageCLConfig(name=name, version=_VERSION, parts=tuple(parts), description=configs.describe(name))
        for name, parts in configs.config_parts().items()
    ]
    DEFAULT_WRITER_BATCH_SIZE = 1000

    def _create_builder_config(self, config_name=None, custom_features=None, **config_kwargs):
        """Opens the source and adds its listing's fingerprint to the cache key (no stale cache)."""
        if "image_size" in config_kwargs and config_kwargs["image_size"] is None:
            config_kwargs["image_size"] = ORIGINAL
        builder_config, config_id = super()._create_builder_config(config_name, custom_features, **config_kwargs)
        self._source = None
        if builder_config.data_dir:
            generator_keys = sorted({g for g, _ in builder_config.parts})
            self._source = sources.open_source(builder_config.data_dir, generator_keys, builder_config.image_size)
            config_id = f"{config_id}-{self._source.fingerprint()[:16]}"
        return builder_config, config_id

    def _info(self):
        return datasets.DatasetInfo(
            description=_DESCRIPTION,
            features=features.features(),
            homepage=_HOMEPAGE,
            license=_LICENSE,
            citation=_CITATION,
        )

    def _split_generators(self, dl_manager):
        if self._source is None:
            raise ValueError(
                "GenImage cannot be downloaded automatically: pass data_dir=<the unzipped GenImage root>, "
                "e.g. GenImageCL(config_name='sdv14', data_dir='/data/GenImage')."
            )
        splits = []
        for split in (datasets.Split.TRAIN, datasets.Split.TEST):
            items = self._source.split_items(str(split), list(self.config.parts))
            shards = [items[i : i + _ITEMS_PER_SHARD] for i in range(0, len(items), _ITEMS_PER_SHARD)] or [[]]
            splits.append(datasets.SplitGenerator(name=split, gen_kwargs={"shards": shards, "split": str(split)}))
        return splits

    def _generate_examples(self, shards, split):
        for items in shards:
            yield from self._source.examples(items, split, self.config.image_size)
