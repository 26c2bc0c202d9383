"""Reading customer files: CSV (UTF-8 or GB18030, any common delimiter) and XLSX → numbered rows of text.

Nothing here knows what a valid customer is; `checking` decides that.
"""

import codecs
import csv
import datetime
import io
import os
import re
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from django.utils import translation
from django.utils.translation import gettext as _

from ..models import Customer

# The columns a file may have, in the order the upload page explains them.
COLUMNS = (
    "external_ref",
    "name",
    "kind",
    "phone",
    "email",
    "region",
    "city",
    "address",
    "industry",
    "category",
    "relationship_level",
    "source",
    "owner",
    "marketing_consent",
    "consent_channel",
    "birthday",
    "anniversary",
    "tags",
    "notes",
)
REQUIRED_COLUMNS = ("name",)
# Key of a row's count of cells beyond the header's columns (a NUL byte: never a header's text).
EXTRA_CELLS = "\x00extra"

_HEADER_NOISE = re.compile(r"[\s_\-]+")


class ImportFileError(Exception):
    """The file as a whole cannot be read (wrong type, no `name` column, not UTF-8 …)."""

    def __init__(self, reason: str, line: int = 0):
        super().__init__(reason)
        self.reason = reason
        self.line = line


def read_rows(path_or_file, filename: str | None = None) -> Iterator[tuple[int, dict]]:
    """Yield (line number, {column: text}) for each non-empty data row of a CSV or XLSX file.

    Line 1 is the header; known headers become column names, unknown ones keep their text.
    Raises ImportFileError when the file as a whole cannot be read.
    """
    yield from _rows(read_records(path_or_file, filename))


def read_records(path_or_file, filename: str | None = None) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells as text) of every record of a CSV or XLSX file, blank ones included.

    Excel cells read as a CSV would have them (`_cell_text`). The order and inventory imports
    read their files with this too. Raises ImportFileError when the file cannot be read."""
    is_path = isinstance(path_or_file, str | os.PathLike)
    name = filename or (str(path_or_file) if is_path else getattr(path_or_file, "name", "")) or ""
    suffix = Path(name).suffix.lower()
    if suffix not in {".csv", ".xlsx"}:
        raise ImportFileError(_("the file must be a .csv or .xlsx file"))
    reader = _read_csv if suffix == ".csv" else _read_xlsx
    if is_path:
        with open(path_or_file, "rb") as binary:
            yield from reader(binary)
    else:
        if hasattr(path_or_file, "seek"):
            path_or_file.seek(0)
        yield from reader(path_or_file)


def _read_csv(binary) -> Iterator[tuple[int, list[str]]]:
    sample = binary.read(64 * 1024)
    binary.seek(0)
    encoding = _sniff_encoding(sample)
    text = io.TextIOWrapper(binary, encoding=encoding, newline="")
    try:
        yield from _csv_records(csv.reader(text, delimiter=_sniff_delimiter(sample, encoding)))
    finally:
        text.detach()


def _csv_records(reader) -> Iterator[tuple[int, list]]:
    """(first line, cells) per CSV record; errors name the line after the last good record."""
    end = 0
    try:
        for cells in reader:
            # line_num is where the record ends; a quoted newline makes it span several lines.
            start, end = end + 1, reader.line_num
            yield start, cells
    except UnicodeDecodeError as exc:
        raise ImportFileError(_("the file is not UTF-8 text; save it as “CSV UTF-8”"), end + 1) from exc
    except csv.Error as exc:
        raise ImportFileError(_("the file is not valid CSV: %(error)s") % {"error": exc}, end + 1) from exc


def _read_xlsx(binary) -> Iterator[tuple[int, list[str]]]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        # data_only: a formula cell gives the value Excel computed, not the formula.
        workbook = load_workbook(binary, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ImportFileError(_("the file is not a valid Excel .xlsx workbook")) from exc
    try:
        for line, cells in enumerate(workbook.worksheets[0].iter_rows(values_only=True), start=1):
            yield line, [_cell_text(cell) for cell in cells]
    finally:
        workbook.close()


def _rows(records: Iterable[tuple[int, list]]) -> Iterator[tuple[int, dict]]:
    """The first non-empty record is the header; every later non-empty one becomes {column: text}."""
    keys = None
    for line, cells in records:
        if not any(cell.strip() for cell in cells):
            continue
        if keys is None:
            keys = _header(cells, line)
        else:
            yield line, _row(keys, cells)
    if keys is None:
        raise ImportFileError(_("the file is empty"))


def _header(cells, line: int) -> list[str | None]:
    """Map header cells to column names (unknown headers keep their text); check `name` is there."""
    return header_keys(cells, line, aliases=_header_aliases(), required=REQUIRED_COLUMNS)


def header_keys(texts: list[str], line: int, *, aliases: dict[str, str], required) -> list[str | None]:
    """The column name of each header cell (`aliases`: `_header_key` spelling → column; unknown
    headers keep their text; blank ones are None). ImportFileError for a column named twice or a
    required column missing."""
    keys, seen = [], set()
    for cell in texts:
        text = cell.strip()
        if not text:
            keys.append(None)
            continue
        key = aliases.get(_header_key(text), text)
        if key in seen:
            raise ImportFileError(_("column '%(column)s' appears twice in the header") % {"column": text}, line)
        seen.add(key)
        keys.append(key)
    missing = [column for column in required if column not in seen]
    if missing:
        raise ImportFileError(
            _("the header row has no '%(column)s' column (the first row must name the columns)")
            % {"column": missing[0]},
            line,
        )
    return keys


def _header_aliases() -> dict[str, str]:
    """Header spellings → column: the column name, and the field's English and Chinese names."""
    aliases = {}
    for language in ("en", "zh-hans"):
        with translation.override(language):
            for column in COLUMNS:
                aliases.setdefault(_header_key(Customer._meta.get_field(column).verbose_name), column)
    aliases.update({_header_key(column): column for column in COLUMNS})
    return aliases


def _header_key(text: str) -> str:
    return _HEADER_NOISE.sub("_", str(text).replace("\ufeff", "").strip().casefold()).strip("_")


def _row(keys: list[str | None], cells) -> dict:
    row = {key: "" for key in keys if key}
    for key, cell in zip(keys, cells, strict=False):
        if key:
            row[key] = cell
    extra = [cell for cell in cells[len(keys) :] if cell.strip()]
    if extra:
        row[EXTRA_CELLS] = len(extra)
    return row


def _cell_text(value) -> str:
    """A spreadsheet cell as text: whole numbers without '.0', dates as YYYY-MM-DD."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time() else value.isoformat(" ")
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return str(value)


def _sniff_encoding(sample: bytes) -> str:
    """UTF-8 (BOM or not) as promised; GB18030 when the bytes are not UTF-8 (Excel's CSV in China)."""
    for encoding in ("utf-8", "gb18030"):
        try:
            codecs.getincrementaldecoder(encoding)().decode(sample, final=False)
        except UnicodeDecodeError:
            continue
        return "utf-8-sig" if encoding == "utf-8" else encoding
    return "utf-8-sig"


def _sniff_delimiter(sample: bytes, encoding: str) -> str:
    first_line = sample.decode(encoding, errors="ignore").splitlines()[0] if sample.strip() else ""
    counts = {delimiter: first_line.count(delimiter) for delimiter in (",", ";", "\t")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","
