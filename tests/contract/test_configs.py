"""Config names: compared without case; a misspelling names the closest, GenImage's own generator names the key."""

from __future__ import annotations

import pytest

from conversion.contract import configs, tables


def test_names_are_compared_without_case():
    assert configs.resolve("SDV14-Task3") == "sdv14-task3"
    assert configs.resolve("Disjoint-Rotate", corrupted=True) == "disjoint-rotate"


@pytest.mark.parametrize("key", list(tables.generators()))
def test_genimage_names_of_a_generator_suggest_its_key(key):
    generator = tables.generators()[key]
    names = (generator.top_folder, generator.inner_folder, generator.display_name, generator.tag)
    aliases = {name for name in names if name.lower() != key}  # "ADM" is the config adm itself
    assert generator.inner_folder in aliases
    for alias in aliases:
        for name, meant in ((alias, key), (f"{alias.upper()}-task2", f"{key}-task2")):
            with pytest.raises(ValueError) as error:
                configs.resolve(name)
            assert f"unknown config {name!r}; that is GenImage's name for generator {key!r}: use {meant!r}; " in str(
                error.value)


def test_a_genimage_name_with_a_corruption_suggests_the_corrupted_config():
    with pytest.raises(ValueError, match="use 'sdv14-task0-rotate'"):
        configs.resolve("stable_diffusion_v_1_4-task0-rotate", corrupted=True)
    with pytest.raises(ValueError, match=r"unknown config 'stable_diffusion_v_1_4-task0-rotate'; configs: "):
        configs.resolve("stable_diffusion_v_1_4-task0-rotate")  # no corrupted configs asked: none suggested


def test_a_misspelling_names_the_closest():
    with pytest.raises(ValueError, match=r"unknown config 'sdv41'; closest: sdv15, sdv14; configs: "):
        configs.resolve("sdv41")
