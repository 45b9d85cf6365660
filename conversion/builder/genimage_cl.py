"""GenImageCL: the GenImage continual-learning benchmark as a ``datasets.GeneratorBasedBuilder``.

One config per generator (six tasks), per generator task, ``disjoint`` and ``disjoint-reversed``; each builds from an
unzipped GenImage tree or the CL tensor release (:func:`conversion.sources.kinds.open_source`) into
the contract's columns (docs/contract.md). The top-level ``genimage_cl.py`` is its face: the import
users write, and the loading script on datasets 3.6.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
from dataclasses import dataclass

import datasets

from conversion import local_paths
from conversion.builder import build_report, corrupted_rows, culprits
from conversion.contract import configs, features, tables
from conversion.pixels import corruption_recipe
from conversion.sources import kinds

logger = datasets.logging.get_logger(__name__)

_CITATION = tables.citation()

_DESCRIPTION = """\
GenImage-CL: AI-generated versus natural ImageNet images from GenImage's generators, split into six
continual-learning tasks of 100 disjoint ImageNet classes each (Tiny-ImageNet's 200 classes held
out). Labels are standard ImageNet-1k indices; images are the release's 64x64 pixels by default.
"""

_HOMEPAGE = "https://github.com/GenImage-Dataset/GenImage"

_LICENSE = tables.dataset_facts()["license"]

ORIGINAL = kinds.ORIGINAL

_ITEMS_PER_SHARD = 1000
_MIN_SHARDS = 16
"""At least this many input shards (of at least 10 items) so that num_proc jobs get equal work."""
_VERSION = datasets.Version("1.0.0")


def _file_bytes(item) -> int:
    """An item's expected conversion cost: its file's bytes (1 for tensor rows, whose size is unknown)."""
    return item.size or 1


def _even_shards(items: list, cost=lambda item: 1) -> list[list]:
    """Contiguous shards of near-equal total ``cost``, about _ITEMS_PER_SHARD items each and at least
    _MIN_SHARDS of them when there are enough items. datasets gives each of ``num_proc`` processes an
    equal count of consecutive shards, so equal-cost shards give the processes equal work. The rows'
    order does not depend on the shards."""
    count = max(-(-len(items) // _ITEMS_PER_SHARD), min(_MIN_SHARDS, len(items) // 10), 1)
    ends = list(itertools.accumulate(map(cost, items)))
    bounds = [0]
    for i in range(1, count):
        cut = bisect.bisect_left(ends, ends[-1] * i / count) + 1
        bounds.append(min(max(cut, bounds[-1] + 1), len(items) - (count - i)))
    bounds.append(len(items))
    return [items[bounds[i] : bounds[i + 1]] for i in range(count)]


@dataclass
class GenImageCLConfig(datasets.BuilderConfig):
    """A sequence of (generator, task) parts, and the image size to store.

    Args:
        parts: the (generator key, task) pairs the config holds.
        image_size: side of the stored square images (64 reproduces the release), or
            ``"original"`` (or ``None``) to keep the source files untouched.
        strict: raise on the first file that has to be skipped, instead of reporting it.
        splits: the splits to build (default both).
        check: how files kept at full resolution are checked: ``"decode"`` (default: decoded in full),
            ``"structure"`` (PNG chunks and CRCs, JPEG markers through end-of-image, header read by
            Pillow; no pixel decode) or ``"none"`` (read only). 64-px builds always decode.
        corruption: build the test split's corrupted copy instead (one of ``gaussian_noise``,
            ``gaussian_blur``, ``saturate``, ``rotate``): the release's ``X_<corruption>.pt`` where it
            has one, else made with the release's recipe; float32 ``pixels`` replace ``image``.
    """

    parts: tuple = ()
    image_size: int | str = 64
    strict: bool = False
    splits: tuple = ("train", "test")
    corruption: str | None = None
    check: str = "decode"

    def validate(self):
        if self.image_size != ORIGINAL and not (
            isinstance(self.image_size, int) and not isinstance(self.image_size, bool) and self.image_size > 0
        ):
            raise ValueError(f"image_size must be a positive integer or {ORIGINAL!r}, got {self.image_size!r}")
        if self.corruption is not None:
            corruption_recipe.check(self.corruption)
            size = tables.release_pixels()["image_size"]
            if self.image_size != size:
                raise ValueError(f"corrupted copies are {size}x{size} release pixels: image_size must be {size} "
                                 f"with corruption={self.corruption!r}, got {self.image_size!r}")
            self.splits = (corrupted_rows.SPLIT,)
        self.splits = tuple(self.splits)
        if not self.splits or not set(self.splits) <= {"train", "test"}:
            raise ValueError(f"splits must be a non-empty subset of ('train', 'test'), got {self.splits!r}")
        if self.check not in kinds.CHECKS:
            raise ValueError(f"check must be one of {kinds.CHECKS}, got {self.check!r}")
        if self.check != "decode" and self.image_size != ORIGINAL:
            raise ValueError(f"check={self.check!r} needs image_size={ORIGINAL!r}: converted pixels always come "
                             "from a full decode")


_KEYWORDS = ("image_size", "strict", "splits", "check")
"""Config keywords whose default value, passed explicitly, is dropped before the cache key."""


def _same(value, default) -> bool:
    """Equal and of the same type (``True == 1``, but ``image_size=True`` must fail, not match)."""
    return type(value) is type(default) and value == default


class GenImageCL(datasets.GeneratorBasedBuilder):
    """GenImage-CL: one config per generator (six tasks), per generator task, ``disjoint`` and ``disjoint-reversed``."""

    VERSION = _VERSION
    BUILDER_CONFIG_CLASS = GenImageCLConfig
    BUILDER_CONFIGS = [
        GenImageCLConfig(name=name, version=_VERSION, parts=tuple(parts), description=configs.describe(name))
        for name, parts in configs.config_parts().items()
    ]
    """The 58 clean configs. ``<config>-<corruption>`` names the same config with ``corruption=...``:
    accepted by name, not listed, so that ``datasets-cli test --all_configs`` and config pickers see
    the benchmark's configs, not 232 test-only copies of them."""
    # rows held before each Arrow write: bounds memory when full-size images are kept (~100 x 500 KB)
    DEFAULT_WRITER_BATCH_SIZE = 100

    def __init__(self, *args, cache_dir=None, source=None, **kwargs):
        """Refuses a ``cache_dir`` that is not a plain local path before datasets (fsspec) writes anywhere.

        ``source``: a source opened by :func:`conversion.sources.kinds.open_source` (its ``data_dir`` is
        then the source's root), so that builds of several configs of one source list it once.
        """
        if cache_dir is not None:
            cache_dir = str(local_paths.local_path(cache_dir, "cache_dir"))
        self._opened = source
        if source is not None:
            kwargs["data_dir"] = str(source.root)
        super().__init__(*args, cache_dir=cache_dir, **kwargs)

    def _create_builder_config(self, config_name=None, custom_features=None, **config_kwargs):
        """Resolves the config name (without case; a misspelling names the closest), normalises the
        keywords so that equal settings share one cache, opens the source and adds its listing's
        fingerprint to the cache key (no stale cache)."""
        config_name = configs.resolve(config_name, corrupted=True)
        corrupted_names = configs.corrupted_configs()
        if config_name in corrupted_names:
            config_name, corruption = corrupted_names[config_name]
            if config_kwargs.get("corruption") not in (None, corruption):
                raise ValueError(f"config {configs.corrupted_config_name(config_name, corruption)!r} is the "
                                 f"{corruption} copy; got corruption={config_kwargs['corruption']!r} too")
            config_kwargs["corruption"] = corruption
        if "image_size" in config_kwargs and config_kwargs["image_size"] is None:
            config_kwargs["image_size"] = ORIGINAL
        if "splits" in config_kwargs and not isinstance(config_kwargs["splits"], str):
            config_kwargs["splits"] = tuple(config_kwargs["splits"])
        if config_kwargs.get("data_dir"):
            config_kwargs["data_dir"] = str(local_paths.local_path(config_kwargs["data_dir"], "data_dir"))
        defaults = {f.name: f.default for f in dataclasses.fields(GenImageCLConfig) if f.name in _KEYWORDS}
        config_kwargs = {k: v for k, v in config_kwargs.items()
                         if v is not None and not (k in defaults and _same(v, defaults[k]))}
        builder_config, config_id = super()._create_builder_config(config_name, custom_features, **config_kwargs)
        builder_config.validate()
        if builder_config.corruption:
            builder_config.name = configs.corrupted_config_name(config_name, builder_config.corruption)
        self._source = None
        self._report_parts, self._report_plans = None, []
        if builder_config.data_dir:
            generator_keys = sorted({g for g, _ in builder_config.parts})
            if self._opened is None:
                self._source = kinds.open_source(builder_config.data_dir, generator_keys, builder_config.image_size)
            else:
                self._source = self._opened
                self._source.require(generator_keys, builder_config.image_size)
            config_id = f"{config_id}-{self._source.fingerprint(generator_keys)[:16]}"
        return builder_config, config_id

    def _info(self):
        return datasets.DatasetInfo(
            description=_DESCRIPTION,
            features=corrupted_rows.corrupted_features() if self.config.corruption else features.features(),
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
        for split in self.config.splits:
            plan = self._source.split_plan(str(split), list(self.config.parts))
            if self.config.corruption:
                shards = corrupted_rows.cells(plan.items)
                corrupted_rows.check_cells(self._source, shards, self.config.corruption)
                if not any(corruption_recipe.kept_rows(len(cell)) for cell in shards):
                    raise ValueError(
                        f"{self.config.name}: no (task, source) of {self.config.data_dir} has 10 or more test images; "
                        "a corrupted copy keeps the first floor(N/10)*10 rows of each, so it would be empty")
            else:
                shards = _even_shards(plan.items, _file_bytes)
            self._report_plans.append(
                build_report.plan_record(plan, self.config.data_dir, str(split), len(shards), self.config.strict)
            )
            gen_kwargs = {"shards": list(enumerate(shards)), "split": str(split)}
            generator = datasets.SplitGenerator(name=split, gen_kwargs=gen_kwargs)
            # the progress bar's total and time left: files to convert (datasets sets the rows written after)
            generator.split_info.num_examples = len(plan.items)
            splits.append(generator)
        return splits

    def _generate_examples(self, shards, split):
        for index, items in shards:
            log = build_report.ShardLog(self._report_parts, self.config.data_dir, split, index, self.config.strict)
            try:
                if self.config.corruption:
                    yield from corrupted_rows.examples(self._source, items, self.config.corruption, log)
                else:
                    yield from self._source.examples(items, split, self.config.image_size, log, self.config.check)
            except Exception as err:  # named here: datasets would report "An error occurred while generating"
                item = items[min(log.done, len(items) - 1)]
                named = culprits.naming_the_item(err, item, row=not self.config.corruption)
                if named is err:
                    raise
                raise named from err
            log.save()

    def _download_and_prepare(self, dl_manager, verification_mode, **prepare_split_kwargs):
        """Prepares the splits, then writes the build report (skips and totals) beside them."""
        self._report_parts, self._report_plans = build_report.start(self._output_dir), []
        with culprits.unwrapped():
            super()._download_and_prepare(dl_manager, verification_mode, **prepare_split_kwargs)
        rows = {name: info.num_examples for name, info in self.info.splits.items()}
        build_report.finish(self._output_dir, self._report_plans, rows, self.config.name, self.config.data_dir,
                            self.config.check, self.config.image_size)
