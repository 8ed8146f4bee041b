"""GTO's tag grammar and semantic versions, without git."""

from __future__ import annotations

import pytest

from conveyor.registry import RegistryError
from conveyor.registry.tags import TAG_PATTERN, SemVer, check_name, parse_tag


def test_tag_grammar_is_gtos() -> None:
    from gto.constants import tag_re

    assert tag_re.pattern == TAG_PATTERN


@pytest.mark.parametrize(
    ("tag", "fields"),
    [
        ("diagnostics@v1.2.0", {"name": "diagnostics", "version": "v1.2.0", "cancel": ""}),
        ("diagnostics#prod#7", {"name": "diagnostics", "stage": "prod", "counter": "7"}),
        ("diagnostics#prod!#8", {"stage": "prod", "cancel": "!", "counter": "8"}),
        ("diagnostics@v1.0.0-rc.1", {"version": "v1.0.0-rc.1", "prerelease": "rc.1"}),
        ("diagnostics@deprecated", {"deprecated": "deprecated"}),
        ("sub/dir=churn@v0.1.0", {"artifact": "sub/dir=churn", "name": "churn"}),
    ],
)
def test_registry_tags_parse(tag: str, fields: dict[str, str]) -> None:
    parsed = parse_tag(tag)
    assert parsed is not None
    assert {key: parsed[key] for key in fields} == fields


@pytest.mark.parametrize("tag", ["v1.0.0", "diagnostics@1.0.0", "diagnostics#", "-x@v1.0.0"])
def test_other_tags_are_not_registry_tags(tag: str) -> None:
    assert parse_tag(tag) is None


def test_semver_orders_like_semver() -> None:
    texts = ["v1.10.0", "v1.2.0", "v1.2.0-rc.2", "v1.2.0-rc.10", "v1.2.0-alpha", "v0.9.9"]
    ordered = sorted(texts, key=lambda t: SemVer.parse(t).sort_key())
    assert ordered == ["v0.9.9", "v1.2.0-alpha", "v1.2.0-rc.2", "v1.2.0-rc.10", "v1.2.0", "v1.10.0"]


@pytest.mark.parametrize(
    ("start", "part", "expected"),
    [
        ("v1.2.3", "major", "v2.0.0"),
        ("v1.2.3", "minor", "v1.3.0"),
        ("v1.2.3", "patch", "v1.2.4"),
        ("v1.3.0-rc.1", "patch", "v1.3.0"),
    ],
)
def test_bump(start: str, part: str, expected: str) -> None:
    assert str(SemVer.parse(start).bump(part)) == expected  # type: ignore[arg-type]


def test_version_without_v_suggests_the_fix() -> None:
    with pytest.raises(RegistryError, match=r"'1\.2\.0' is not a version") as caught:
        SemVer.parse("1.2.0")
    assert "did you mean 'v1.2.0'" in (caught.value.fix or "")


def test_bad_names_are_refused() -> None:
    with pytest.raises(RegistryError, match="'prod stage' is not a valid stage name"):
        check_name("prod stage", what="stage name")
