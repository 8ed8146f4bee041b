"""Built-in sources: datasets bundled with scikit-learn and statsmodels, CSV and Parquet files.

The SQL source lives in ``sql.py`` and the seeded generators in ``synthetic.py``.
"""

from __future__ import annotations

import codecs
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator

from conveyor.components._files import (
    WHERE,
    StrictParams,
    check_project_path,
    dependency,
    expand,
    is_glob,
    missing_columns_error,
    missing_path_error,
    refuse_outside,
)
from conveyor.errors import DataError, PluginError
from conveyor.plugins.base import Source

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    import pandas as pd
    import pyarrow as pa
    import pyarrow.dataset as ds
    from pandas.io.parsers import TextFileReader

    from conveyor.plugins.base import FrameScan, Scan

PARQUET_SUFFIXES = frozenset({".parquet", ".parq", ".pq"})


class SklearnDatasetParams(StrictParams):
    """A dataset that ships inside scikit-learn (no download)."""

    name: Literal["breast_cancer", "diabetes", "digits", "iris", "wine"]
    target: str = Field(default="target", min_length=1)
    """Name given to the target column."""


class SklearnDatasetSource(Source[SklearnDatasetParams]):
    """``kind: sklearn_dataset`` — e.g. ``params: {name: breast_cancer}``."""

    Params = SklearnDatasetParams

    def read(self, root: Path) -> pd.DataFrame:
        """Load the bundled dataset as one frame: features plus the target column."""
        del root
        from sklearn import datasets

        loader = getattr(datasets, f"load_{self.params.name}")
        frame: pd.DataFrame = loader(as_frame=True).frame
        return frame.rename(columns={"target": self.params.target})


class StatsmodelsDatasetParams(StrictParams):
    """A dataset that ships inside statsmodels (no download).

    ``co2``: weekly Mauna Loa CO2 1958-2001 (``date``, ``co2``; 59 weeks are missing and kept
    as NaN). ``elnino``: monthly sea surface temperature 1950-2010 (``date``, ``temperature``).
    ``sunspots``: yearly sunspot activity 1700-2008 (``date``, ``sunactivity``). ``macrodata``:
    quarterly US macroeconomic series 1959-2009 (``date`` and 12 series). ``nile``: yearly Nile
    river flow 1871-1970 (``date``, ``volume``).
    """

    name: Literal["co2", "elnino", "macrodata", "nile", "sunspots"]


class StatsmodelsDatasetSource(Source[StatsmodelsDatasetParams]):
    """``kind: statsmodels_dataset`` — e.g. ``params: {name: co2}``; needs the examples extra."""

    Params = StatsmodelsDatasetParams

    def read(self, root: Path) -> pd.DataFrame:
        """Load the dataset as a plain frame whose time axis is a ``date`` column."""
        del root
        try:
            from statsmodels import datasets
        except ImportError as exc:
            raise PluginError(
                "source 'statsmodels_dataset' needs statsmodels, which is not installed",
                where=WHERE,
                fix="pip install 'conveyor-mlops[examples]'",
            ) from exc
        data: pd.DataFrame = getattr(datasets, self.params.name).load_pandas().data
        shaped = _STATSMODELS_SHAPERS[self.params.name](data)
        shaped.columns = [str(c).lower() for c in shaped.columns]
        return shaped.reset_index(drop=True)


def _first_days(year: pd.Series, month: pd.Series | int = 1) -> pd.Series:
    """The first day of each (year, month), from float years such as 1958.0."""
    import pandas as pd

    parts = pd.DataFrame({"year": year.astype("int64"), "month": month, "day": 1})
    return pd.to_datetime(parts).rename("date")


def _co2(data: pd.DataFrame) -> pd.DataFrame:
    # The weekly DatetimeIndex becomes a column; missing weeks stay NaN for imputation to see.
    return data.rename_axis("date").reset_index()[["date", "co2"]]


def _elnino(data: pd.DataFrame) -> pd.DataFrame:
    months = [c for c in data.columns if c != "YEAR"]
    long = data.melt(id_vars="YEAR", value_vars=months, var_name="month", value_name="temperature")
    number = long["month"].map({m: i for i, m in enumerate(months, start=1)})
    long["date"] = _first_days(long["YEAR"], number)
    return long.sort_values("date")[["date", "temperature"]]


def _macrodata(data: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    dates = _first_days(data["year"], (data["quarter"].astype("int64") - 1) * 3 + 1)
    return pd.concat([dates, data.drop(columns=["year", "quarter"])], axis=1)


def _nile(data: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    return pd.concat([_first_days(data["year"]), data["volume"]], axis=1)


def _sunspots(data: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    return pd.concat([_first_days(data["YEAR"]), data["SUNACTIVITY"]], axis=1)


_STATSMODELS_SHAPERS: dict[str, Callable[[pd.DataFrame], pd.DataFrame]] = {
    "co2": _co2,
    "elnino": _elnino,
    "macrodata": _macrodata,
    "nile": _nile,
    "sunspots": _sunspots,
}


class FileParams(StrictParams):
    """Data inside the project: ``path`` is relative to its root."""

    path: str = Field(min_length=1)
    """A file, a folder, or a glob such as ``data/sales/*.parquet`` (where the source allows)."""
    columns: list[str] | None = Field(default=None, min_length=1)
    """Read only these columns, in this order (all when omitted)."""

    @field_validator("path")
    @classmethod
    def _inside_project(cls, value: str) -> str:
        return check_project_path(value)

    @field_validator("columns")
    @classmethod
    def _unique(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) < len(value):
            repeated = sorted({c for c in value if value.count(c) > 1})
            msg = f"columns are listed more than once: {repeated}"
            raise ValueError(msg)
        return value


class CsvParams(FileParams):
    """Options of ``pandas.read_csv`` that matter for reproducible reads; ``path`` is one file."""

    sep: str = Field(default=",", min_length=1)
    encoding: str = "utf-8"
    na_values: list[str] | None = None

    @field_validator("path")
    @classmethod
    def _one_file(cls, value: str) -> str:
        if is_glob(value):
            msg = f"'{value}' is a glob; a csv source reads one file (or use kind: sql with tables)"
            raise ValueError(msg)
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            msg = f"unknown encoding '{value}'; e.g. utf-8, latin-1, cp1252, utf-16"
            raise ValueError(msg) from None
        return value


# First bytes of files that people save as .csv by mistake, and what to do instead.
_NOT_CSV = (
    (b"PAR1", "a Parquet file", "use 'kind: parquet'"),
    (b"SQLite format 3\x00", "a SQLite database", "use 'kind: sql' with params.database"),
    (b"PK\x03\x04", "a zip archive (or an Excel workbook)", "export or unzip it to plain CSV"),
    (b"\x1f\x8b", "gzip-compressed", "name it '.csv.gz' so that it is decompressed on read"),
)
_COMPRESSED = (".gz", ".bz2", ".zip", ".xz", ".zst", ".tar")


class CsvSource(Source[CsvParams]):
    """``kind: csv`` — ``params: {path: data/input.csv}``."""

    Params = CsvParams

    def read(self, root: Path) -> pd.DataFrame:
        """Read the CSV file; a missing, binary or malformed file is a located DataError."""
        import pandas as pd

        from conveyor.components._csv_stream import one_chunk_text

        path = self._checked(root)
        with self._parse_errors(path):
            frame: pd.DataFrame = pd.read_csv(path, usecols=self.params.columns, **self._options())
        return one_chunk_text(frame[self.params.columns] if self.params.columns else frame)

    def scan(self, root: Path) -> FrameScan:
        """The rows in frames of ``read``'s dtypes, settled by a first pass over the file.

        See ``conveyor.components._csv_stream``; a column that pandas makes Python objects of
        several types is the reason to read the file whole instead.
        """
        import pandas as pd

        from conveyor.components._csv_stream import csv_frames
        from conveyor.plugins.base import FrameScan

        path = self._checked(root)

        def open_reader() -> TextFileReader:
            options = self._options()
            return pd.read_csv(path, usecols=self.params.columns, iterator=True, **options)

        def chunks(rows: int) -> Iterator[pd.DataFrame] | str:
            with self._parse_errors(path):
                frames = csv_frames(open_reader, rows, self.params.columns)
            return frames if isinstance(frames, str) else self._located(path, frames)

        return FrameScan(path.stat().st_size, chunks)

    def _checked(self, root: Path) -> Path:
        """The file, once it is known to be inside the project, present, text, with the columns."""
        import pandas as pd

        relative = self.params.path
        refuse_outside(root, relative)
        path = root / relative
        if not path.is_file():
            raise missing_path_error(root, relative, kind="csv source")
        self._refuse_binary(path)
        with self._parse_errors(path):
            header = [str(c) for c in pd.read_csv(path, nrows=0, **self._options()).columns]
        if error := missing_columns_error(self.params.columns or [], header, file=relative):
            raise error
        return path

    def _options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"sep": self.params.sep, "encoding": self.params.encoding}
        if self.params.na_values is not None:
            options["na_values"] = self.params.na_values
        return options

    def _located(self, path: Path, frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        with self._parse_errors(path):
            yield from frames

    @contextmanager
    def _parse_errors(self, path: Path) -> Iterator[None]:
        """The errors of reading ``path`` with pandas, as located DataErrors that say the fix."""
        import pandas as pd

        relative = self.params.path
        try:
            yield
        except UnicodeDecodeError as exc:
            bad = exc.object[exc.start : exc.start + 1].hex()
            raise DataError(
                f"'{relative}' is not {self.params.encoding} text (byte 0x{bad}: {exc.reason})",
                where=WHERE,
                fix="set params.encoding to the file's encoding (e.g. latin-1, cp1252, utf-16)",
            ) from exc
        except pd.errors.EmptyDataError as exc:
            raise DataError(
                f"'{relative}' is empty: it has no header line",
                where=WHERE,
                fix="write the column names on the first line, then the rows",
            ) from exc
        except (pd.errors.ParserError, ValueError) as exc:
            detail = str(exc).strip().removeprefix("Error tokenizing data. C error: ")
            if detail.startswith("EOF inside string"):
                raise self._unclosed_quote(path) from exc
            raise DataError(
                f"cannot parse '{relative}' as CSV: {detail}",
                where=WHERE,
                fix="give every row as many fields as the header, or set params.sep to the "
                f"file's delimiter (now {self.params.sep!r})",
            ) from exc

    def _unclosed_quote(self, path: Path) -> DataError:
        """A quote never closed: its line in the file (pandas counts records, not lines)."""
        from conveyor.components._csv_scan import unclosed_quote_line

        relative = self.params.path
        line = unclosed_quote_line(path, sep=self.params.sep, encoding=self.params.encoding)
        at = f" line {line}" if line is not None else ""
        return DataError(
            f"'{relative}'{at}: a quoted field opens here and is never closed, so the rest of "
            "the file would be one value",
            where=WHERE,
            fix=f"close the quote{f' on line {line}' if line else ''} of '{relative}' (a field "
            'that holds a quote writes it twice: ""), or, if the file was cut off while it was '
            "written, copy or export it again",
        )

    def _refuse_binary(self, path: Path) -> None:
        """Name what a binary file is, rather than let the parser report garbage."""
        if path.name.endswith(_COMPRESSED):
            return
        with path.open("rb") as stream:
            head = stream.read(8192)
        for magic, what, fix in _NOT_CSV:
            if head.startswith(magic):
                raise DataError(f"'{self.params.path}' is {what}, not CSV", where=WHERE, fix=fix)
        wide = codecs.lookup(self.params.encoding).name.startswith(("utf-16", "utf-32"))
        if b"\x00" in head and not wide:
            raise DataError(
                f"'{self.params.path}' is a binary file, not CSV text",
                where=WHERE,
                fix="point params.path at a CSV file, or set params.encoding if it is UTF-16",
            )

    def local_files(self) -> list[str]:
        """The CSV file is a dependency of ingest."""
        return [self.params.path]


class ParquetSource(Source[FileParams]):
    """``kind: parquet`` — ``path``: a file, a folder (hive partitions welcome) or a glob.

    Files are read in name order and their schemas unified (a column missing from some files
    is null there). A stored pandas index comes back as ordinary columns.
    """

    Params = FileParams

    def read(self, root: Path) -> pd.DataFrame:
        """Read every file ``path`` names into one frame."""
        import pyarrow as pa

        dataset, _ = self._dataset(root)
        try:
            table = dataset.to_table(columns=self.params.columns)
        except (pa.ArrowException, OSError) as exc:
            raise self._damaged(root, exc) from exc
        return plain_index(table.to_pandas(split_blocks=True, self_destruct=True))

    def scan(self, root: Path) -> Scan:
        """The rows in file order as batches; converted by :func:`plain_index`, ``read``'s rows."""
        from conveyor.components._parquet_scan import scan_dataset

        dataset, files = self._dataset(root)
        return scan_dataset(
            dataset,
            files,
            self.params.columns,
            as_read=_as_read,
            damaged=lambda exc: self._damaged(root, exc),
        )

    def _dataset(self, root: Path) -> tuple[ds.Dataset, list[Path]]:
        """The files ``path`` names as one dataset with their unified schema, and the files."""
        import pyarrow as pa
        import pyarrow.dataset as ds
        import pyarrow.parquet as pq

        relative = self.params.path
        files, base = expand(root, relative, kind="parquet source", suffixes=PARQUET_SUFFIXES)
        schemas = []
        for file in files:
            try:
                schemas.append(pq.read_schema(file))
            except (pa.ArrowException, OSError) as exc:
                raise DataError(
                    f"cannot read '{file.relative_to(root).as_posix()}' as Parquet: {exc}",
                    where=WHERE,
                    fix="check that params.path names Parquet files only",
                ) from exc
        names = [str(f) for f in files]
        options: dict[str, Any] = {"format": "parquet", "partitioning": "hive"}
        options["partition_base_dir"] = str(base)
        try:
            # The first file's schema plus the hive partition fields found in the paths.
            partitioned = ds.dataset(names, **options).schema
            schema = pa.unify_schemas([*schemas, partitioned])
            dataset = ds.dataset(names, schema=schema, **options)
        except (pa.ArrowTypeError, pa.ArrowInvalid) as exc:
            raise DataError(
                f"cannot combine the files of '{relative}' into one table: {exc}",
                where=WHERE,
                fix="give the files one schema (a column has one type in every file), "
                "or narrow params.path to the files that match",
            ) from exc
        if error := missing_columns_error(self.params.columns or [], schema.names, file=relative):
            raise error
        return dataset, files

    def _damaged(self, root: Path, exc: Exception) -> DataError:
        return DataError(
            f"cannot read '{self.params.path}': {str(exc).replace(f'{root}/', '')}",
            where=WHERE,
            fix="the file is damaged: write it again, or restore it with 'dvc checkout'",
        )

    def local_files(self) -> list[str]:
        """The file or folder, or a glob's folder prefix: what DVC tracks for ingest."""
        return [dependency(self.params.path)]


def plain_index(frame: pd.DataFrame) -> pd.DataFrame:
    """A RangeIndex from 0; an index pandas stored (a date, an id) becomes a column."""
    import pandas as pd

    if isinstance(frame.index, pd.RangeIndex) and frame.index.name is None:
        return frame.reset_index(drop=True)
    return frame.reset_index()


def _as_read(table: pa.Table) -> pd.DataFrame:
    return plain_index(table.to_pandas(split_blocks=True, self_destruct=True))
