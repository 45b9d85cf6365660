"""File names of every generator, in every notation, map to the standard label."""

from __future__ import annotations

import pytest

from conversion.contract import tables
from conversion.samples.genimage_tree import ai_file_name
from conversion.sources import file_names


@pytest.mark.parametrize(
    "key, file_name, label",
    [
        ("adm", "115_adm_141.PNG", 115),
        ("biggan", "116_biggan_00094.png", 116),
        ("glide", "GLIDE_1000_200_08_808_glide_00033.png", 808),
        ("midjourney", "208_midjourney_76.png", 208),
        ("sdv14", "033_sdv4_00134.png", 33),
        ("sdv15", "033_sdv5_00134.png", 33),
        ("vqdm", "VQDM_1000_200_00_033_vqdm_00000.png", 33),
        ("wukong", "033_wukong_00000.png", 33),
        ("sdv14", "7_sdv4_1.PNG", 7),
        ("glide", "0_glide_00001.png", 0),
    ],
)
def test_ai_names(key, file_name, label):
    assert file_names.label_of(file_name, "ai", tables.generators()[key].tag) == label


def test_every_generator_example_round_trips():
    for generator in tables.generators().values():
        for label in (0, 33, 999):
            name = ai_file_name(generator, label, 12)
            assert file_names.ai_label(name, generator.tag) == label


@pytest.mark.parametrize(
    "file_name, message",
    [
        ("abc_adm_1.png", "not a number"),
        ("1000_adm_1.png", "out of range"),
        ("115_sdv4_1.png", "no '<class>_adm_<number>'"),
        ("adm_1.png", "no '<class>_adm_<number>'"),
        ("115_adm.png", "no '<class>_adm_<number>'"),
        ("\u00b2_adm_00900.png", "not a number"),  # '²': a digit to str.isdigit, not to int
        ("\u0663_adm_1.png", "not a number"),  # Arabic-Indic three: int() reads it, the rule is ASCII only
        ("115\n_adm_1.png", "not a number"),
    ],
)
def test_bad_ai_names(file_name, message):
    with pytest.raises(file_names.BadFileName, match=message):
        file_names.ai_label(file_name, "adm")


@pytest.mark.parametrize(
    "file_name, label",
    [
        ("ILSVRC2012_val_00000001.JPEG", 65),
        ("ILSVRC2012_val_00000002.JPEG", 970),
        ("ILSVRC2012_val_00000003.JPEG", 230),
        ("ILSVRC2012_val_00050000.JPEG", 355),
        ("n01440764_10026.JPEG", 0),
        ("n02437616_7.jpeg", 355),
    ],
)
def test_nature_names(file_name, label):
    assert file_names.label_of(file_name, "nature", "adm") == label


@pytest.mark.parametrize(
    "file_name, message",
    [
        ("ILSVRC2012_val_00000000.JPEG", "out of range"),
        ("ILSVRC2012_val_00050001.JPEG", "out of range"),
        ("n99999999_1.JPEG", "unknown wnid"),
        ("photo.JPEG", "neither"),
        ("ILSVRC2012_val_123.JPEG", "neither"),
        ("ILSVRC2012_val_0000000\u00b2.JPEG", "neither"),
        ("ILSVRC2012_val_\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0661.JPEG", "neither"),
        ("ILSVRC2012_val_00000001\n.JPEG", "neither"),
        ("n0144076\u2074_10026.JPEG", "neither"),
    ],
)
def test_bad_nature_names(file_name, message):
    with pytest.raises(file_names.BadFileName, match=message):
        file_names.nature_label(file_name)


UNSAFE = {"\n": "control character (U+000A)", "\t": "control character (U+0009)", "\x7f": "control character (U+007F)",
          "\x85": "control character (U+0085)", "\u202e": "bidirectional control character (U+202E)",
          "\u2066": "bidirectional control character (U+2066)", "\u200f": "bidirectional control character (U+200F)"}


@pytest.mark.parametrize("char", UNSAFE)
def test_control_and_bidi_characters_are_skipped_in_every_name(tmp_path, char):
    """One rule for AI and natural names: AI names with ``\\n``, ``\\t`` or U+202E were kept (into ``file_name``
    and export names) where the same characters skipped a natural name."""
    from conversion.samples import genimage_tree
    from conversion.sources import raw_tree

    root = genimage_tree.make_sample_tree(tmp_path / "GenImage", generators=["wukong"], classes_per_task=1)
    train = genimage_tree.generator_folder(root, tables.generators()["wukong"], "nested") / "train"
    label = tables.task_classes()[0][0]
    names = {"ai": f"{label}_wukong_1{char}gnp.png", "nature": f"{tables.wnids()[label]}_7{char}.JPEG"}
    for source, name in names.items():
        (train / source / name).write_bytes(next((train / source).iterdir()).read_bytes())
    plan = raw_tree.plan(raw_tree.scan(root, ["wukong"]), "train", [("wukong", 0)])
    reasons = {skip.path: skip.reason for skip in plan.skips}
    for source, name in names.items():
        assert reasons[str(train / source / name)] == f"file name: holds a {UNSAFE[char]}"
    assert not any(char in item.file_name for item in plan.items)
    assert len(plan.skips) == len(names)
