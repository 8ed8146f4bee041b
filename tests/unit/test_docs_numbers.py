"""docs/benchmarks.md's tables say what benchmarks/results/*.json say (issue 18).

Each ``## `` section of the page names the results file(s) its numbers come from
(``benchmarks/results/<script>.json``); the summary table names its script in the first column.
Every number in those tables, headers included, must be a value of a cited results file, as
shown (rounded to the digits the table prints, in s, ms, µs, MiB or %), or appear in one of the
file's labels; every date in a row must be the date of the file it cites. The oracle is the
JSON the scripts wrote, never a copy of the numbers.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "benchmarks.md"
RESULTS = ROOT / "benchmarks" / "results"

CITE = re.compile(r"benchmarks/results/([\w.-]+\.json)")
DATE = re.compile(r"\b(\d{4}-\d{2}-\d{2})\b")
VERSION = re.compile(r"(?<![\w.])\d+\.\d+\.\d+(?![\w.])")
NUMBER = re.compile(r"(?<![\w.,])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(k|M)?(?![\w.]*[A-Za-z0-9])")
# What a printed number may be, from a value in the JSON: itself, seconds as ms or µs, bytes
# as MiB or GiB, a share as a percentage.
LOOSE = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")  # numbers in JSON labels
SCALES = (1.0, 1e3, 1e6, 1 / 2**20, 1 / 2**30, 100.0)
SAMPLES = {"times_s"}  # raw per-round samples: too many values to match a number by chance


def _sections(text: str, level: str = "##") -> list[tuple[str, str]]:
    parts = re.split(rf"^({level} .*)$", text, flags=re.MULTILINE)
    return [(parts[i], parts[i + 1]) for i in range(1, len(parts), 2)]


def _table_rows(body: str) -> list[list[str]]:
    rows = []
    for line in body.splitlines():
        if line.startswith("|") and not re.fullmatch(r"\|[-:| ]+\|", line.strip()):
            rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return rows


def _values(obj: object, numbers: list[float], strings: list[str], key: str = "") -> None:
    if key in SAMPLES:
        return
    if isinstance(obj, dict):
        pair = obj.get("candidate"), obj.get("baseline")
        if all(isinstance(side, dict) and "times_s" in side for side in pair):
            # each round runs both sides back to back: its ratio is a result too
            rounds = zip(pair[0]["times_s"], pair[1]["times_s"], strict=True)  # type: ignore[index]
            numbers += [c / b for c, b in rounds]
        for k, v in obj.items():
            strings.append(str(k))
            _values(v, numbers, strings, str(k))
    elif isinstance(obj, list):
        for v in obj:
            _values(v, numbers, strings, key)
    elif isinstance(obj, bool) or obj is None:
        return
    elif isinstance(obj, int | float):
        numbers.append(float(obj))
    else:
        strings.append(str(obj))


class Results:
    """The values of the results files a part of the page cites."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.numbers: list[float] = []
        strings: list[str] = []
        self.dates: set[str] = set()
        for name in names:
            data = json.loads((RESULTS / name).read_text())
            self.dates.add(str(data["date"])[:10])
            _values(data, self.numbers, strings)
        self.text = "\n".join(strings)
        for s in strings:
            for m in LOOSE.finditer(s):
                self.numbers.append(float(m.group(0).replace(",", "")))

    def has(self, shown: re.Match[str]) -> bool:
        value, digits = _parse(shown), len(shown.group(2) or ".") - 1
        tolerance = 0.5 * 10**-digits + 1e-9
        if shown.group(3):  # 1M, 65k: a count, said roughly
            tolerance = value * 0.05
        return any(
            math.isclose(value, v * s, abs_tol=tolerance) or abs(value - v * s) <= tolerance
            for v in self.numbers
            for s in SCALES
        )


def _parse(m: re.Match[str]) -> float:
    value = float(m.group(1).replace(",", "") + (m.group(2) or ""))
    return value * {"k": 1e3, "M": 1e6}.get(m.group(3) or "", 1.0)


def _check_row(row: list[str], results: Results, where: str) -> list[str]:
    problems = []
    for cell in row:
        for date in DATE.findall(cell):
            if date not in results.dates:
                problems.append(f"{where}: date {date} is not the date of {results.names}")
        cell = DATE.sub(" ", cell)
        for version in VERSION.findall(cell):
            if version not in results.text:
                problems.append(f"{where}: {version} appears nowhere in {results.names}")
        cell = VERSION.sub(" ", cell)
        for m in NUMBER.finditer(cell.replace("\u2212", "-")):
            if not results.has(m):
                problems.append(f"{where}: {m.group(0)!r} in {cell!r} is not in {results.names}")
    return problems


def _summary_results(first_cell: str) -> list[str]:
    script = re.search(r"(\w+)\.py", first_cell)
    assert script, f"the summary row {first_cell!r} names no script"
    return [f"{script.group(1)}.json"]


def doc_problems(text: str, *, page: bool = True) -> list[str]:
    """Every table number that its cited results file does not hold.

    ``page``: docs/benchmarks.md, whose summary table names scripts and whose every table
    cites; elsewhere in docs/ only the sections that cite a results file are checked.
    """
    problems: list[str] = []
    head, _, _ = text.partition("\n## ")
    for row in (
        _table_rows(head)[1:] if page else []
    ):  # the other columns describe the script's workload
        results = Results(_summary_results(row[0]))
        problems += _check_row(row[-1:], results, f"summary {row[0]}")
    for title, body in _sections(text, "##" if page else "#{2,3}"):
        rows = _table_rows(body)
        cited = list(dict.fromkeys(CITE.findall(body)))
        if rows and not cited and page:
            problems.append(f"{title}: a table, but no benchmarks/results/*.json named")
        elif rows and cited:
            results = Results(cited)
            for row in rows:
                problems += _check_row(row, results, title)
    return problems


def test_every_cited_results_file_exists_and_has_a_script() -> None:
    names = {n for p in DOC.parent.glob("*.md") for n in CITE.findall(p.read_text())}
    assert names
    for name in names:
        assert (RESULTS / name).is_file(), name
        assert (ROOT / "benchmarks" / name.replace(".json", ".py")).is_file(), name


def test_every_table_number_matches_its_results_file() -> None:
    assert doc_problems(DOC.read_text()) == []


@pytest.mark.parametrize("doc", sorted(p.name for p in DOC.parent.glob("*.md") if p != DOC))
def test_other_docs_tables_match_the_results_they_cite(doc: str) -> None:
    assert doc_problems((DOC.parent / doc).read_text(), page=False) == []


def test_scoring_cites_its_results() -> None:
    # the one table outside benchmarks.md that reports a benchmark
    assert "benchmarks/results/bench_score.json" in (DOC.parent / "scoring.md").read_text()


@pytest.mark.parametrize(
    ("row", "caught"),
    [
        ("| `bench_compile.py` | x | y | ratio ≤ 1.3 | **met**: 1.459 |", False),
        # far from every ratio of the file, per-round ones included, so no rounding excuses them
        ("| `bench_compile.py` | x | y | ratio ≤ 1.3 | **met**: 2.93 |", True),
        ("| `bench_compile.py` | x | y | ratio ≤ 1.3 | **met**: 1.458 |", True),
        ("| `bench_help.py` | x | y | median ≤ 0.35 s | 0.074 s; 25 rounds |", False),
        ("| `bench_help.py` | x | y | median ≤ 0.35 s | 0.074 s; 30 rounds |", True),
        ("| `bench_help.py` | x | y | median ≤ 0.35 s | 74.4 ms |", False),
        ("| `bench_help.py` | x | y | median ≤ 0.35 s | 75.4 ms |", True),
        ("| `bench_help.py` | x | y | z | met (2026-11-26) |", False),
        ("| `bench_help.py` | x | y | z | met (2026-11-27) |", True),
        ("| `bench_serve.py` | x | y | z | 16.9\u00d7 mlflow 3.17.2 |", False),
        ("| `bench_serve.py` | x | y | z | 16.9\u00d7 mlflow 3.17.3 |", True),
        ("| `bench_serve.py` | x | y | z | 16.8\u00d7 |", True),
    ],
)
def test_a_wrong_number_is_caught(row: str, caught: bool) -> None:
    header = "| benchmark | command | baseline | goal | result |\n|---|---|---|---|---|\n"
    assert bool(doc_problems(f"# B\n\n{header}{row}\n")) is caught


def test_a_section_table_needs_a_cited_file() -> None:
    body = "# B\n\n## `conveyor --help`\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    assert doc_problems(body) == [
        "## `conveyor --help`: a table, but no benchmarks/results/*.json named"
    ]
    cited = body + "\nResults: `benchmarks/results/bench_help.json`.\n"
    assert doc_problems(cited.replace("| 1 | 2 |", "| 25 rounds | 0.0744 s |")) == []
    assert doc_problems(cited.replace("| 1 | 2 |", "| 30 rounds | 0.0744 s |")) != []
