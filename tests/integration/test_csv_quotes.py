"""A CSV cut off inside a quoted field names the file, the quote's real line and a fix."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.conftest import conveyor, conveyor_in_process

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow  # its case starts 'conveyor run <stage>' (the slow rule)

DATA = """\
sources:
  visits:
    kind: csv
    params: {path: visits.csv}
target: label
split: {strategy: stratified, test_size: 0.4}
"""


def test_a_csv_truncated_inside_a_quoted_field_names_the_line_the_quote_opens(
    project: Path,
) -> None:
    rows = "".join(f'{i},"ward {i % 2}",{i % 2}\n' for i in range(8))
    (project / "visits.csv").write_text(f"age,ward,label\n{rows}")
    (project / "conf" / "data" / "visits.yaml").write_text(DATA)
    conveyor_in_process("compile", "data=visits", "features=none", cwd=project)
    # Line 10 holds a quoted field over two lines (pandas counts it as one row), so the quote
    # opened on line 12, never closed before the file ends, is pandas' "row 10": the file's
    # line is what a user's editor shows.
    (project / "visits.csv").write_text(
        f'age,ward,label\n{rows}8,"ward\nzero",0\n9,"ward 1,1\n10,ward 0,0\n'
    )
    done = conveyor("run", "ingest-visits", cwd=project, check=False)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert (
        "error: data.sources.visits: 'visits.csv' line 12: a quoted field opens here and is "
        "never closed, so the rest of the file would be one value"
    ) in done.stderr
    assert (
        "fix: close the quote on line 12 of 'visits.csv' (a field that holds a quote writes it "
        'twice: ""), or, if the file was cut off while it was written, copy or export it again'
    ) in done.stderr
    assert "no rows" not in done.stderr
    assert "EOF inside string" not in done.stderr
    assert not (project / "data" / "raw").exists()  # nothing written
