"""The Source protocol describes what both build sources provide, member for member."""

from __future__ import annotations

import inspect

import pytest

from conversion.sources import base, kinds, raw_tree, release

MEMBERS = {name: value for name, value in vars(base.Source).items()
           if (inspect.isfunction(value) or isinstance(value, property)) and not name.startswith("_")}


def _parameters(member) -> list[tuple[str, object]]:
    function = member.fget if isinstance(member, property) else member
    return [(p.name, p.default) for p in inspect.signature(function).parameters.values()]


@pytest.mark.parametrize("cls", [raw_tree.RawTreeSource, release.ReleaseSource])
def test_both_sources_provide_every_member_with_its_signature(cls):
    assert sorted(MEMBERS) == ["corrupted_copies", "corrupted_copy", "examples", "fingerprint", "generators", "parts",
                               "require", "split_plan"]
    for name, member in MEMBERS.items():
        found = inspect.getattr_static(cls, name)
        assert isinstance(found, property) == isinstance(member, property), (cls.__name__, name)
        assert _parameters(found) == _parameters(member), (cls.__name__, name)
    assert set(base.Source.__annotations__) == {"kind", "description", "root"}
    assert cls.kind in (kinds.RAW_TREE, kinds.RELEASE) and isinstance(cls.description, str)
    assert "self.root = " in inspect.getsource(cls.__init__)
