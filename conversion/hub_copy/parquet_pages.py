"""Parquet shards with a CRC-32 in every page header, so that a flipped bit is caught when read.

Every writer of the copy passes :data:`WRITE_OPTIONS` to ``pyarrow.parquet.ParquetWriter`` (through
``Dataset.to_parquet``). Shards written by datasets' builder (``download_and_prepare(file_format=
"parquet")``, which takes no writer options) are rewritten by :func:`add_checksums`, row group by
row group, with the options datasets uses. Readers check them with :func:`open_checked`, which
opens only a regular file that is not a link (a FIFO named like a shard would block a reader forever).
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import datasets
import pyarrow.parquet as pq
from datasets.arrow_writer import get_parquet_column_options

from conversion import atomic_files
from conversion.regular_files import open_regular

WRITE_OPTIONS = {"write_page_checksum": True}
CDC_KEY = b"content_defined_chunking"
"""Key-value metadata datasets writes with the content-defined chunking options it used."""


def add_checksums(path: str | os.PathLike) -> None:
    """Rewrite the shard ``path`` in place (atomically) with page checksums; rows and row groups unchanged."""
    path = Path(path)
    with atomic_files.replacing(path) as tmp:
        with pq.ParquetFile(path) as source:
            schema = source.schema_arrow
            features = datasets.Features.from_arrow_schema(schema)
            cdc = json.loads((source.metadata.metadata or {}).get(CDC_KEY, b"false"))
            with pq.ParquetWriter(tmp, schema, use_content_defined_chunking=cdc, write_page_index=True,
                                  **get_parquet_column_options(features, schema), **WRITE_OPTIONS) as writer:
                for index in range(source.num_row_groups):
                    writer.write_table(source.read_row_group(index))
                if cdc:
                    writer.add_key_value_metadata({CDC_KEY.decode(): json.dumps(cdc)})


@contextlib.contextmanager
def open_checked(path: str | os.PathLike):
    """The shard (a regular file), opened so that reading any page verifies its checksum (an ``OSError`` if
    it fails)."""
    with open_regular(path) as file:
        yield pq.ParquetFile(file, page_checksum_verification=True)


def read_metadata(path: str | os.PathLike) -> pq.FileMetaData:
    """The footer of the shard ``path`` (a regular file)."""
    with open_regular(path) as file:
        return pq.read_metadata(file)
