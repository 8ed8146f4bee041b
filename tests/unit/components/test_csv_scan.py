"""The line of a CSV's unclosed quote, under pandas' quoting rules, on real files."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import pytest

from conveyor.components._csv_scan import unclosed_quote_line

if TYPE_CHECKING:
    from pathlib import Path

CASES = [
    ('a,b\n1,2\n3,"x\n', 3),  # opens at a field start on the last line
    ('a,b\n"1,2\n3,4\n', 2),  # opens the first field of a row, swallows the rest
    ('a,"b\n1,2\n', 1),  # in the header
    ('a,b\n1,"x\ny",2\n3,"z\n', 4),  # a closed field over two lines comes first
    ('a,b\n1,"x""\n2,3\n', 2),  # "" inside the field is a quote, not its end
    ('a,b\r\n1,2\r\n3,"x\r\n4,5\r\n', 3),  # CRLF line endings
    ('a;b\n1;"x;y"\n2;"z\n', 3),  # another delimiter
]
BALANCED = [
    "a,b\n1,2\n",
    'a,b\n1,"x\ny"\n',  # closed on the next line
    'a,b\n1,x"y\n2,3\n',  # a quote inside an unquoted field is literal
    'a,b\n1,"x"y,z\n2,3\n',  # text after a closing quote joins the field; y,z is not quoted
    'a,b\n1,""\n',  # an empty quoted field
    'a,b\n1,"x"""\n',  # a quoted field that ends with a quote
]


@pytest.mark.parametrize(("text", "line"), CASES)
def test_finds_the_line_the_unclosed_quote_opens(tmp_path: Path, text: str, line: int) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(text.encode())
    sep = ";" if ";" in text else ","
    with pytest.raises(pd.errors.ParserError, match="EOF inside string"):
        pd.read_csv(path, sep=sep)  # pandas agrees the quote is never closed
    assert unclosed_quote_line(path, sep=sep) == line


@pytest.mark.parametrize("text", BALANCED)
def test_a_file_whose_quotes_close_has_no_line(tmp_path: Path, text: str) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(text.encode())
    pd.read_csv(path)  # pandas reads it
    assert unclosed_quote_line(path) is None


def test_reads_the_file_in_its_encoding(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes('a,b\n"é",1\n2,"ü\n'.encode("utf-16"))
    assert unclosed_quote_line(path, encoding="utf-16") == 3
