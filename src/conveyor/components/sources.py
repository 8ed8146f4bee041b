"""Built-in sources: datasets bundled with scikit-learn, CSV files and Parquet files."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from conveyor.errors import DataError
from conveyor.plugins.base import Source

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class SklearnDatasetParams(_Params):
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


class FileParams(_Params):
    """A file inside the project (relative to its root)."""

    path: str = Field(min_length=1)
    columns: list[str] | None = None
    """Read only these columns (all when omitted)."""


class CsvParams(FileParams):
    """Options of ``pandas.read_csv`` that matter for reproducible reads."""

    sep: str = ","
    encoding: str = "utf-8"
    na_values: list[str] | None = None


def _resolve(root: Path, relative: str, kind: str) -> Path:
    path = root / relative
    if not path.is_file():
        raise DataError(
            f"{kind} source file '{relative}' does not exist",
            where="data.sources",
            fix=f"create it, fetch it with 'dvc pull {relative}', or fix 'path'",
        )
    return path


class CsvSource(Source[CsvParams]):
    """``kind: csv`` — ``params: {path: data/input.csv}``."""

    Params = CsvParams

    def read(self, root: Path) -> pd.DataFrame:
        """Read the CSV file."""
        import pandas as pd

        options: dict[str, Any] = {"sep": self.params.sep, "encoding": self.params.encoding}
        if self.params.na_values is not None:
            options["na_values"] = self.params.na_values
        path = _resolve(root, self.params.path, "csv")
        try:
            frame: pd.DataFrame = pd.read_csv(path, usecols=self.params.columns, **options)
            return frame
        except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
            raise DataError(
                f"cannot parse '{self.params.path}' as CSV: {exc}",
                where="data.sources",
                fix="check the file, or set 'sep'/'encoding' under the source's params",
            ) from exc

    def local_files(self) -> list[str]:
        """The CSV file is a dependency of ingest."""
        return [self.params.path]


class ParquetSource(Source[FileParams]):
    """``kind: parquet`` — ``params: {path: data/input.parquet}``."""

    Params = FileParams

    def read(self, root: Path) -> pd.DataFrame:
        """Read the Parquet file."""
        import pandas as pd
        import pyarrow as pa

        path = _resolve(root, self.params.path, "parquet")
        try:
            frame: pd.DataFrame = pd.read_parquet(path, columns=self.params.columns)
            return frame
        except (pa.ArrowException, OSError) as exc:
            raise DataError(
                f"cannot read '{self.params.path}' as Parquet: {exc}",
                where="data.sources",
                fix="check that the file is a valid Parquet file",
            ) from exc

    def local_files(self) -> list[str]:
        """The Parquet file is a dependency of ingest."""
        return [self.params.path]
