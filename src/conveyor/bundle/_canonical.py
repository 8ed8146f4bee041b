"""One skops archive per object: ``pipeline.skops`` bytes that do not depend on the run.

skops writes an archive that differs on every dump of the same object:

- each node's ``__id__`` in ``schema.json`` is the Python ``id()`` of the object it was made
  from (a memory address), and arrays and sparse matrices are stored as members named after
  that id (``140397329170000.npy``); bytes and bytearrays (an xgboost Booster) get a random
  ``uuid4()`` name;
- zipfile stamps every member with the current time.

So the model's md5 in ``dvc.lock`` changed on every retrain, even when nothing else did.
:func:`canonical_skops` rewrites such an archive into a pure function of the object:

- ``__id__`` values are renumbered 1, 2, 3, ... in order of first appearance in a depth-first
  walk of ``schema.json`` (skops ignores an ``__id__`` of 0, so numbering starts at 1). Equal
  ids stay equal and distinct ids stay distinct, so an object referenced twice is still
  rebuilt once;
- members are renamed ``0.npy``, ``1.bin``, ... (the old extension kept) in order of their
  first ``file`` reference in the same walk, and every reference is rewritten;
- the archive is written again, stored (skops' own default, so nothing is recompressed),
  members in that order with ``schema.json`` last, each with the date 1980-01-01 00:00:00,
  Unix ``rw-r--r--`` permissions and a Unix creator, and ``schema.json`` is dumped compact
  (no indent, fixed separators, ASCII) with its keys in skops' order (the order the object's
  attributes come back in).

Node states are recognised by shape: a ``file`` is a string in a dict that also has a
``__loader__``, an ``__id__`` is an integer. The dict a ``DictNode`` saves maps keys to node
states (dicts), never to a bare string or integer, so a user's key named ``file`` or
``__id__`` is left alone.
"""

from __future__ import annotations

import io
import json
import stat
import zipfile
from pathlib import PurePosixPath
from typing import Any

SCHEMA_MEMBER = "schema.json"
DATE_TIME = (1980, 1, 1, 0, 0, 0)
"""The earliest date a zip member can carry; the same for every member of every bundle."""
_MODE = stat.S_IFREG | 0o644
_UNIX = 3


def canonical_skops(data: bytes) -> bytes:
    """``data``, a skops archive, with member names, ids, order and zip metadata made canonical.

    Two dumps of equal objects give equal bytes; ``skops.io.loads`` of the result builds the
    same object as of ``data``.

    Raises:
        ValueError: ``data`` is not a skops archive in the form this module knows: it has a
            member that ``schema.json`` does not reference, or references one it lacks. That
            is a bug or an unsupported skops version, since ``data`` comes from skops itself.
    """
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        schema = json.loads(archive.read(SCHEMA_MEMBER))
        files: dict[str, str] = {}
        _renumber(schema, {}, files)
        members = set(archive.namelist()) - {SCHEMA_MEMBER}
        if members != set(files):
            stray = sorted(members - set(files))
            missing = sorted(set(files) - members)
            msg = (
                f"skops archive does not match its schema.json (unreferenced members: {stray}, "
                f"missing members: {missing}); cannot make it canonical"
            )
            raise ValueError(msg)
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as target:
            for old, new in files.items():
                _write(target, new, archive.read(old))
            # compact: with an indent, json falls back to its pure-Python encoder (a second
            # for a 300-tree forest); without one it runs in C
            text = json.dumps(schema, separators=(",", ":"), ensure_ascii=True)
            _write(target, SCHEMA_MEMBER, text.encode("ascii"))
    return out.getvalue()


def _renumber(node: Any, ids: dict[int, int], files: dict[str, str]) -> None:  # noqa: ANN401
    """Rewrite ``__id__`` and ``file`` values in place, numbering them by first appearance.

    ``ids`` maps old ids to new ones and ``files`` old member names to new ones; both fill in
    the order of the walk (dict keys in their stored order, then list items).
    """
    if isinstance(node, list):
        for item in node:
            _renumber(item, ids, files)
        return
    if not isinstance(node, dict):
        return
    is_state = isinstance(node.get("__loader__"), str)
    for key, value in node.items():
        if key == "__id__" and isinstance(value, int) and not isinstance(value, bool):
            node[key] = ids.setdefault(value, len(ids) + 1)
        elif key == "file" and is_state and isinstance(value, str):
            if value not in files:
                files[value] = f"{len(files)}{PurePosixPath(value).suffix}"
            node[key] = files[value]
        else:
            _renumber(value, ids, files)


def _write(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=DATE_TIME)
    info.compress_type = zipfile.ZIP_STORED
    info.create_system = _UNIX
    info.external_attr = _MODE << 16
    archive.writestr(info, data)
