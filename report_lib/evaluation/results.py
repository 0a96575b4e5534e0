"""The evaluation results on disk: a folder of Parquet part files, one per
finished batch, each written under a temporary name and renamed, so a run
killed at any moment leaves only whole parts; one reader concatenates them."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import pyarrow as pa
import pyarrow.parquet as pq

#: One row per image x method x metric.
SCHEMA = pa.schema([
    ("image_id", pa.string()),
    ("label", pa.int32()),  # given class id, -1 if none
    ("target", pa.int32()),  # class explained and scored, -1 if the image failed
    ("method", pa.string()),
    ("metric", pa.string()),
    ("value", pa.float64()),  # NaN if the image failed
    ("probability", pa.float32()),  # softmax probability of the target on the whole image
    ("curve", pa.list_(pa.float32())),  # deletion/insertion/ROAD curve; null for the other metrics
    ("error", pa.string()),  # empty if fine, else why the image was skipped
])
PART_GLOB = "part-*.parquet"
CARD_FILE = "protocol.json"


def part_files(folder: Path) -> list[Path]:
    """The finished part files of a results folder, in the order they were written."""
    return sorted(Path(folder).glob(PART_GLOB))


def write_part(folder: Path, rows: list[dict]) -> Path:
    """Write one batch's rows as the next part file, atomically.

    Args:
        folder: The results folder.
        rows: Dicts with the keys of ``SCHEMA``.

    Returns:
        The part file.
    """
    existing = part_files(folder)
    number = int(existing[-1].stem.split("-")[1]) + 1 if existing else 0
    path = Path(folder) / f"part-{number:06d}.parquet"
    temporary = path.with_suffix(".parquet.tmp")
    pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), temporary)
    temporary.replace(path)  # atomic on POSIX: readers see the whole part or none
    return path


def read_results(folder: str | Path) -> pa.Table:
    """Every row of a results folder as one table (temporary files of a killed run are ignored).

    Args:
        folder: The folder ``evaluate`` wrote.

    Returns:
        A ``pyarrow.Table`` with ``SCHEMA`` (``.to_pandas()`` if pandas is installed).
    """
    parts = part_files(Path(folder))
    if not parts:
        return SCHEMA.empty_table()
    return pa.concat_tables(pq.read_table(part, schema=SCHEMA) for part in parts)


def done_keys(table: pa.Table) -> set[tuple[str, str, str]]:
    """``(image_id, method, metric)`` of every row already written, failed images included."""
    columns = table.select(["image_id", "method", "metric"]).to_pydict()
    return set(zip(columns["image_id"], columns["method"], columns["metric"]))


def rows_as_dicts(table: pa.Table, columns: Iterable[str] = ("image_id", "method", "metric", "value")) -> list[dict]:
    """Selected columns of the results as a list of dicts (for code without pandas)."""
    return table.select(list(columns)).to_pylist()
