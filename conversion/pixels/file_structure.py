"""Is a PNG or JPEG file complete and well formed? Answered from its chunks and markers, without
decoding a pixel.

PNG: every chunk lies inside the file and has the right CRC, the IDAT chunks are contiguous, IEND
ends the stream (the compressed data itself is not inflated). JPEG: the markers after SOI follow
one another with consistent lengths, there is a frame header and at least one scan, and the last
scan's data ends at a marker that leads to EOI. A problem is reported as a skip reason whose kind
(text before ``:``) is ``truncated`` or ``corrupt``, as for a full decode.
"""

from __future__ import annotations

import functools
import re
import struct
import zlib
from typing import NamedTuple

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SOI = b"\xff\xd8"

_FRAME_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
"""SOF0..SOF15; 0xC4 (DHT), 0xC8 (reserved) and 0xCC (DAC) share the range but are no frames."""
_STANDALONE = frozenset(range(0xD0, 0xD8)) | {0x01}
"""RST0..RST7 and TEM: markers without a length."""
_SOS, _EOI = 0xDA, 0xD9
_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7]")
"""The first marker after entropy-coded data: 0xFF not followed by a stuffed zero or a restart."""


@functools.cache
def crc32():
    """libdeflate's CRC-32 where imagecodecs is installed (several times faster), else zlib's;
    looked up on first use (imagecodecs imports numpy)."""
    try:
        from imagecodecs import deflate_crc32
    except ImportError:
        return zlib.crc32
    return deflate_crc32


class Broken(ValueError):
    """The file's structure is incomplete or inconsistent; the message is the skip reason."""


class JpegLayout(NamedTuple):
    frame_marker: int
    """0xC0 baseline, 0xC1 extended, 0xC2 progressive, 0xC9 arithmetic, ..."""
    scans: int


def png_chunks(data: bytes, verify_crc: bool = True) -> list[bytes]:
    """The chunk types of a PNG through IEND, each checked to lie inside the file (and its CRC, if
    ``verify_crc``); :class:`Broken` otherwise."""
    if not data.startswith(PNG_SIGNATURE):
        raise Broken("corrupt: no PNG signature")
    view, crc = memoryview(data), crc32()
    pos, kinds = len(PNG_SIGNATURE), []
    while not kinds or kinds[-1] != b"IEND":
        if pos + 12 > len(data):
            raise Broken(f"truncated: the file ends at byte {len(data)} before the IEND chunk")
        length, kind = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + length
        if end > len(data):
            raise Broken(f"truncated: the {kind.decode('latin-1')!r} chunk at byte {pos} runs past the end of the file")
        if verify_crc and crc(view[pos + 4 : end - 4]) != struct.unpack_from(">I", data, end - 4)[0]:
            raise Broken(f"corrupt: CRC mismatch in the {kind.decode('latin-1')!r} chunk at byte {pos}")
        kinds.append(kind)
        pos = end
    return kinds


def check_png(data: bytes) -> None:
    """Raise :class:`Broken` unless ``data`` is a PNG whose chunks are complete and intact, with
    contiguous image data (IDAT chunks)."""
    kinds = png_chunks(data)
    if b"IDAT" not in kinds:
        raise Broken("corrupt: no image data (IDAT chunk) before IEND")
    first = kinds.index(b"IDAT")
    last = len(kinds) - kinds[::-1].index(b"IDAT")
    if kinds[first:last].count(b"IDAT") != last - first:
        raise Broken("corrupt: the IDAT chunks are not contiguous")


def jpeg_layout(data: bytes) -> JpegLayout:
    """The frame type and scan count of a complete JPEG stream; :class:`Broken` if it is not one."""
    if not data.startswith(JPEG_SOI):
        raise Broken("corrupt: no JPEG start-of-image marker")
    pos, frame, scans = 2, None, 0
    while True:
        if pos + 2 > len(data):
            raise Broken(f"truncated: the file ends at byte {len(data)} before the end-of-image marker")
        if data[pos] != 0xFF:
            raise Broken(f"corrupt: marker expected at byte {pos}, found 0x{data[pos]:02x}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == _EOI:
            if frame is None or scans == 0:
                raise Broken("corrupt: end-of-image marker before any frame header and scan")
            return JpegLayout(frame, scans)
        if marker in _STANDALONE:
            pos += 2
            continue
        if pos + 4 > len(data):
            raise Broken(f"truncated: the file ends inside the marker at byte {pos}")
        (length,) = struct.unpack_from(">H", data, pos + 2)
        end = pos + 2 + length
        if length < 2:
            raise Broken(f"corrupt: marker 0xFF{marker:02X} at byte {pos} has length {length}")
        if end > len(data):
            raise Broken(f"truncated: marker segment 0xFF{marker:02X} at byte {pos} runs past the end of the file")
        if marker in _FRAME_MARKERS:
            if frame is not None:
                raise Broken(f"corrupt: second frame header at byte {pos}")
            frame = marker
        elif marker == _SOS:
            if frame is None:
                raise Broken(f"corrupt: scan at byte {pos} before the frame header")
            scans += 1
            found = _SCAN_END.search(data, end)
            if found is None:
                raise Broken(f"truncated: the data of the scan at byte {pos} has no end")
            end = found.start()
        pos = end


def check_jpeg(data: bytes) -> None:
    """Raise :class:`Broken` unless ``data`` is a complete JPEG stream."""
    jpeg_layout(data)


CHECK_OF_FORMAT = {"PNG": check_png, "JPEG": check_jpeg, "MPO": check_jpeg}
"""Structure check per Pillow format name; other formats have none here."""
