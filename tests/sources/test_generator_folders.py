"""Every supported layout is found; every bad data_dir fails at once with what was looked for and found."""

from __future__ import annotations

import shutil

import pytest

from conversion.contract import tables
from conversion.samples.genimage_tree import generator_folder, make_sample_tree
from conversion.sources import generator_folders
from genimage_cl import GenImageCL


@pytest.fixture(scope="module")
def mixed_root(tmp_path_factory):
    """adm nested, biggan without its top folder, glide in the CL scripts' raw layout."""
    root = tmp_path_factory.mktemp("mixed")
    for key, kind in (("adm", "nested"), ("biggan", "inner"), ("glide", "raw")):
        make_sample_tree(root, generators=[key], layout=kind, classes_per_task=1)
    return root


def test_every_layout_is_found(mixed_root):
    generators = tables.generators()
    found = generator_folders.find_generators(mixed_root)
    assert found == {
        "adm": generator_folder(mixed_root, generators["adm"], "nested"),
        "biggan": generator_folder(mixed_root, generators["biggan"], "inner"),
        "glide": generator_folder(mixed_root, generators["glide"], "raw"),
    }


def test_root_may_be_the_generator_folder(mixed_root):
    folder = generator_folder(mixed_root, tables.generators()["adm"], "nested")
    assert generator_folders.find_generators(folder) == {"adm": folder}
    assert generator_folders.find_generators(folder.parent) == {"adm": folder}


def test_folder_names_match_without_case(tmp_path):
    make_sample_tree(tmp_path, generators=["glide"], layout="nested", classes_per_task=1)
    (tmp_path / "glide").rename(tmp_path / "GLIDE")
    assert set(generator_folders.find_generators(tmp_path)) == {"glide"}


@pytest.mark.parametrize(
    "first, second",
    [
        ("glide/imagenet_glide/train", "glide/imagenet_glide/Train"),  # split folder
        ("glide/imagenet_glide/val/ai", "glide/imagenet_glide/val/AI"),  # source folder
        ("glide", "GLIDE"),  # top folder
    ],
)
def test_case_duplicate_folders_fail_naming_both(tmp_path, first, second):
    make_sample_tree(tmp_path, generators=["glide"], layout="nested", classes_per_task=1)
    shutil.copytree(tmp_path / first, tmp_path / second)
    with pytest.raises(generator_folders.LayoutError, match=r"folders .* and .* differ only in case") as err:
        GenImageCL(config_name="glide", data_dir=str(tmp_path))
    assert str(tmp_path / first) in str(err.value) and str(tmp_path / second) in str(err.value)


@pytest.mark.parametrize("other", ["raw", "inner"])
def test_a_generator_in_two_places_fails_naming_both(tmp_path, other):
    """``<Top>/<inner>`` beside ``<Top>/raw`` or beside ``<inner>`` at the root: two copies, no silent choice."""
    make_sample_tree(tmp_path, generators=["glide"], layout="nested", classes_per_task=1)
    glide = tables.generators()["glide"]
    nested = generator_folder(tmp_path, glide, "nested")
    shutil.copytree(nested, generator_folder(tmp_path, glide, other))
    with pytest.raises(generator_folders.LayoutError, match="glide is in more than one folder") as err:
        generator_folders.find_generators(tmp_path)
    assert str(nested) in str(err.value) and str(generator_folder(tmp_path, glide, other)) in str(err.value)


def test_a_link_to_the_same_folder_is_no_second_copy(tmp_path):
    make_sample_tree(tmp_path, generators=["glide"], layout="nested", classes_per_task=1)
    glide = tables.generators()["glide"]
    (tmp_path / glide.inner_folder).symlink_to(generator_folder(tmp_path, glide, "nested"))
    assert generator_folders.find_generators(tmp_path) == {"glide": generator_folder(tmp_path, glide, "nested")}


def test_builds_from_each_layout(mixed_root, build):
    task1 = tables.task_classes()[1]
    for key in ("adm", "biggan", "glide"):
        rows = build(f"{key}-task1", mixed_root)["train"]
        assert rows["source"] == [0, 1] and rows["label"] == [task1[0], task1[0]]
        assert set(rows["generator"]) == {tables.generator_index(key)}


def test_missing_data_dir(tmp_path):
    with pytest.raises(generator_folders.LayoutError, match="is not a directory"):
        GenImageCL(config_name="sdv14", data_dir=str(tmp_path / "nowhere"))


def test_empty_data_dir(tmp_path):
    with pytest.raises(generator_folders.LayoutError,
                       match=r"neither a raw GenImage tree nor a CL tensor release.*"
                             r"looked for sdv14: stable_diffusion_v_1_4/imagenet_ai_0419_sdv4.*empty folder"):
        GenImageCL(config_name="sdv14", data_dir=str(tmp_path))


def test_unrelated_data_dir_names_its_content(tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(generator_folders.LayoutError,
                       match=r"looked for adm: ADM/imagenet_ai_0508_adm.*the folder holds notes.txt, photos"):
        GenImageCL(config_name="adm", data_dir=str(tmp_path))


def test_generator_missing_from_tree(mixed_root):
    with pytest.raises(generator_folders.LayoutError, match=r"sdv14 not found.*Found adm at .*biggan at .*glide at"):
        GenImageCL(config_name="sdv14", data_dir=str(mixed_root))


def test_disjoint_needs_every_task_generator(mixed_root):
    with pytest.raises(generator_folders.LayoutError, match=r"midjourney, sdv14, vqdm not found"):
        GenImageCL(config_name="disjoint", data_dir=str(mixed_root))


def test_generator_without_a_source_folder(tmp_path):
    make_sample_tree(tmp_path, generators=["wukong"], classes_per_task=1)
    folder = generator_folder(tmp_path, tables.generators()["wukong"], "nested")
    shutil.rmtree(folder / "val" / "nature")
    with pytest.raises(generator_folders.LayoutError, match=r"has no val/nature/ folder.*val/ holds ai"):
        GenImageCL(config_name="wukong", data_dir=str(tmp_path))


def test_no_data_dir_is_explained(tmp_path):
    builder = GenImageCL(config_name="sdv14", cache_dir=str(tmp_path))
    with pytest.raises(ValueError, match="cannot be downloaded automatically: pass data_dir"):
        builder.download_and_prepare()


def test_unknown_config_lists_the_available_ones(sample_root):
    with pytest.raises(ValueError, match=r"unknown config 'sdv14-task9'; closest: sdv14-task5.*configs: adm biggan"):
        GenImageCL(config_name="sdv14-task9", data_dir=str(sample_root))
