"""Turn a GenImage file name into a standard ImageNet-1k label (docs/genimage-tree.md#file-names, docs/labels.md).

Three notations meet here: AI file names carry the standard index before the generator's tag,
natural train names carry the wnid, and natural val names carry the ILSVRC2012 val number,
which the ILSVRC2015 ground truth maps to a clsloc id and so to a wnid.
"""

from __future__ import annotations

import re

from conversion.contract import tables

IMAGE_EXTENSIONS = frozenset({".png", ".jpeg", ".jpg"})
_VAL_NAME = re.compile(r"ILSVRC2012_val_([0-9]{8})")
_TRAIN_NAME = re.compile(r"(n[0-9]{8})_[0-9]+")
_NUMBER = re.compile(r"[0-9]+")
"""Patterns are matched whole (``fullmatch``) and take ASCII digits only: ``str.isdigit`` and ``\\d`` also
accept digits such as ``²`` that ``int`` refuses."""


_UNSAFE = re.compile("(?P<control>[\x00-\x1f\x7f-\x9f])|(?P<bidi>[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069])")
"""Control characters (Unicode category Cc: ``\\n``, ``\\t``, DEL, C1), which break the lines and columns
of every listing a name is written into; and bidirectional marks, embeddings, overrides and isolates,
which make a name display as another (``evil\u202egnp.exe`` shows as ``evilexe.png``)."""
_UNSAFE_KIND = {"control": "a control character", "bidi": "a bidirectional control character"}


def unsafe_character(file_name: str) -> str | None:
    """Why ``file_name`` cannot be kept as it is (its first control or bidirectional character), or None."""
    found = _UNSAFE.search(file_name)
    if found is None:
        return None
    return f"holds {_UNSAFE_KIND[found.lastgroup]} (U+{ord(found.group()):04X})"


class BadFileName(ValueError):
    """A file name that does not map to an ImageNet class; the message is the skip reason."""


def split_name(file_name: str) -> tuple[str, str]:
    stem, dot, ext = file_name.rpartition(".")
    if not dot:
        return file_name, ""
    return stem, "." + ext.lower()


def ai_label(file_name: str, tag: str) -> int:
    """Class index of an AI image: the token just before the last ``_<tag>_`` (any case)."""
    stem, _ = split_name(file_name)
    tokens = stem.split("_")
    for i in range(len(tokens) - 2, 0, -1):
        if tokens[i].lower() == tag:
            token = tokens[i - 1]
            if not _NUMBER.fullmatch(token):
                raise BadFileName(f"class token {token!r} before '_{tag}_' is not a number")
            label = int(token)
            if label >= 1000:
                raise BadFileName(f"class index {label} out of range 0..999")
            return label
    raise BadFileName(f"no '<class>_{tag}_<number>' in the file name")


def nature_label(file_name: str) -> int:
    """Class of a natural ImageNet image, from its train wnid or its ILSVRC2012 val number."""
    stem, _ = split_name(file_name)
    match = _VAL_NAME.fullmatch(stem)
    if match:
        number = int(match.group(1))
        if not 1 <= number <= tables.NUM_VAL_IMAGES:
            raise BadFileName(f"ILSVRC2012 val number {number} out of range 1..{tables.NUM_VAL_IMAGES}")
        return tables.val_labels()[number - 1]
    match = _TRAIN_NAME.fullmatch(stem)
    if match:
        label = tables.label_of_wnid().get(match.group(1))
        if label is None:
            raise BadFileName(f"unknown wnid {match.group(1)}")
        return label
    raise BadFileName("neither '<wnid>_<n>' nor 'ILSVRC2012_val_<8 digits>'")


def label_of(file_name: str, source: str, tag: str) -> int:
    return ai_label(file_name, tag) if source == "ai" else nature_label(file_name)
