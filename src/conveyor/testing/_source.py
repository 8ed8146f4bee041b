"""``SourceContract``: the suite every ``conveyor.sources`` component passes."""

from __future__ import annotations

from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING, Any, ClassVar

import pytest

from conveyor.testing._contract import ComponentContract

if TYPE_CHECKING:
    import pandas as pd

    from conveyor.plugins import Source
    from conveyor.plugins.base import FrameScan


class SourceContract(ComponentContract):
    """The suite of a ``conveyor.sources`` component.

    Subclass with ``component``, ``name`` and ``params``; override the ``root`` fixture to write
    the files that ``params`` point at. It checks that ``read(root)`` returns a non-empty
    DataFrame with unique string column names, the same rows on every call, that survive the
    Parquet file ingest writes; that ``scan(root)``, if the source has one, gives those rows in
    Arrow batches or in frames of ``read``'s dtypes; and that ``local_files()`` are relative
    paths inside the project that exist (files, or folders such as a glob's static prefix).
    """

    kind = "source"
    component: ClassVar[type[Source[Any]]]
    scan_rows: ClassVar[int] = 2
    """The frame size asked of a ``FrameScan`` (small, so that the rows come in several)."""

    @pytest.fixture
    def root(self, tmp_path: Path) -> Path:
        """The project root that ``read`` resolves relative paths against (empty by default)."""
        return tmp_path

    @pytest.fixture
    def source(self) -> Source[Any]:
        """The source built from ``params``."""
        return self.make()  # type: ignore[no-any-return]

    def test_read_returns_rows(self, source: Source[Any], root: Path) -> None:
        """A non-empty DataFrame with at least one column."""
        import pandas as pd

        frame = source.read(root)
        assert isinstance(frame, pd.DataFrame), f"read returned {type(frame).__name__}"
        assert len(frame) > 0, "read returned no rows"
        assert frame.shape[1] > 0, "read returned no columns"

    def test_column_names_are_unique_strings(self, source: Source[Any], root: Path) -> None:
        """Column names are strings (Parquet and YAML refer to them by name), each once."""
        columns = list(source.read(root).columns)
        not_strings = [c for c in columns if not isinstance(c, str)]
        assert not not_strings, f"column names that are not strings: {not_strings}"
        duplicated = sorted({c for c in columns if columns.count(c) > 1})
        assert not duplicated, f"duplicated column names: {duplicated}"

    def test_read_is_deterministic(self, source: Source[Any], root: Path) -> None:
        """Two reads give the same rows, so DVC caches one version of the raw data."""
        import pandas as pd

        pd.testing.assert_frame_equal(source.read(root), source.read(root))

    def test_rows_survive_parquet(self, source: Source[Any], root: Path, tmp_path: Path) -> None:
        """The frame round-trips through the Parquet file that ingest writes."""
        import pandas as pd

        frame = source.read(root).reset_index(drop=True)
        path = tmp_path / "roundtrip.parquet"
        frame.to_parquet(path, index=False)
        pd.testing.assert_frame_equal(pd.read_parquet(path), frame)

    def test_scan_gives_the_rows_read_gives(self, source: Source[Any], root: Path) -> None:
        """A source that can be scanned (``scan()`` not None) gives ``read``'s rows in batches.

        Ingest writes the scanned batches when the rows exceed the memory budget, so they must
        be the same rows, in the same order, with the same columns; the schema must be the
        batches' and the size positive. (Each batch alone may hold narrower dtypes, such as an
        integer column whose nulls are in other batches: ingest gives it the whole's.)
        """
        import pandas as pd
        import pyarrow as pa

        from conveyor.plugins.base import FrameScan

        scan = source.scan(root)
        if scan is None:
            return
        assert scan.size > 0, f"scan().size is {scan.size}"
        if isinstance(scan, FrameScan):
            self._check_frames(scan, source.read(root))
            return
        batches = list(scan.batches(None))
        assert all(b.schema.equals(scan.schema) for b in batches), "batches differ from schema"
        frames = [scan.frame(pa.Table.from_batches([b])) for b in batches]
        scanned = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        pd.testing.assert_frame_equal(scanned, source.read(root), check_dtype=False)

    def _check_frames(self, scan: FrameScan, read: pd.DataFrame) -> None:
        """A :class:`FrameScan`'s frames: of the size asked for, and ``read``'s rows exactly.

        Unlike Arrow batches they must hold ``read``'s dtypes and values (ingest writes them as
        they are), so they are compared dtype for dtype; or the scan says why it cannot.
        """
        import pandas as pd

        chunks = scan.chunks(self.scan_rows)
        if isinstance(chunks, str):
            assert chunks.strip(), "chunks() refused with an empty reason"
            return
        frames = list(chunks)
        sizes = [len(frame) for frame in frames]
        assert sizes, "chunks() gave no frame"
        assert all(size == self.scan_rows for size in sizes[:-1]), f"frame sizes {sizes}"
        assert 0 < sizes[-1] <= self.scan_rows, f"frame sizes {sizes}"
        scanned = pd.concat(frames, ignore_index=True)
        pd.testing.assert_frame_equal(scanned, read.reset_index(drop=True))

    def test_local_files_are_relative_and_exist(self, source: Source[Any], root: Path) -> None:
        """``local_files()`` become DVC dependencies: project-relative, inside it, present.

        Each is a file or a folder: DVC tracks a folder as a whole, which is how a source that
        reads a glob (``data/sales/*.parquet``) or a partitioned dataset declares its input.
        """
        for file in source.local_files():
            assert isinstance(file, str), f"local file {file!r} is not a str"
            for flavour in (PurePosixPath, PureWindowsPath):
                assert not flavour(file).is_absolute(), f"local file '{file}' is absolute"
            assert ".." not in PurePosixPath(file).parts, f"local file '{file}' leaves the project"
            assert PurePosixPath(file).parts, (
                f"local file '{file}' is the project root; DVC would depend on every output"
            )
            assert (root / file).is_file() or (root / file).is_dir(), (
                f"local file '{file}' is neither a file nor a folder under root"
            )
