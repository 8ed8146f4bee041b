"""Hostile model bundles, built as an attacker would: edit a real bundle, then re-hash it.

Each payload is a skops node that, if skops ever builds it, creates a marker file. The
attacker also rewrites ``manifest.json`` (a self-hash proves nothing about who wrote the
bundle) and may add ``trusted_modules`` to ``metadata.json``, which old conveyor honoured.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

Node = dict[str, Any]


def node(module: str, cls: str, loader: str, **fields: Any) -> Node:
    return {"__class__": cls, "__module__": module, "__loader__": loader, **fields}


def text(value: str) -> Node:
    return node("builtins", "str", "JsonNode", content=json.dumps(value), is_json=True)


def boolean(value: bool) -> Node:
    return node("builtins", "bool", "JsonNode", content=json.dumps(value), is_json=True)


def none() -> Node:
    return node("builtins", "NoneType", "JsonNode", content="null", is_json=True)


def tuple_of(*items: Node) -> Node:
    return node("builtins", "tuple", "TupleNode", content=list(items))


def list_of(*items: Node) -> Node:
    return node("builtins", "list", "ListNode", content=list(items))


def call(module: str, name: str, *args: Node) -> Node:
    """``module.name(*args)``: skops' ConstructorFromReduceNode calls whatever it names."""
    return node(module, name, "ConstructorFromReduceNode", content=tuple_of(*args))


def function(module: str, name: str) -> Node:
    return node(module, name, "FunctionNode")


def each(func: Node, *args: Node) -> Node:
    """``list(map(func, args))``: calls ``func`` on each argument while the list is built."""
    return call("builtins", "list", call("builtins", "map", func, list_of(*args)))


def _touch(marker: Path) -> str:
    return f"open({str(marker)!r}, 'w').close()"


def _os_module() -> Node:
    return call("builtins", "__import__", text("os"))


@dataclass(frozen=True)
class Payload:
    """A node that creates ``marker``; ``trust`` is what it writes into metadata.json."""

    name: str
    build: Callable[[Path, Path], Node]
    """(marker, bundle dir) -> the node."""
    trust: tuple[str, ...] = ()
    files: Callable[[Path], dict[str, bytes]] | None = None
    """Extra files the attacker adds to the bundle (and to its manifest)."""
    detached: bool = False
    """It starts a process it does not wait for, which may create ``marker`` after the load
    (or the command) has returned. Every other payload has made it by then, if it ran."""

    @property
    def dangerous_type(self) -> str:
        """The type that does the harm, which a refusal must name (the name's first word)."""
        return self.name.split()[0]


def _pickle_that_touches(marker: Path) -> bytes:
    # protocol 0 by hand: posix.system('touch <marker>'), no pickle module involved
    return f"cposix\nsystem\n(S'touch {marker}'\ntR.".encode()


PAYLOADS = (
    Payload("builtins.exec", lambda m, _: call("builtins", "exec", text(_touch(m)))),
    Payload("builtins.eval", lambda m, _: call("builtins", "eval", text(_touch(m)))),
    Payload(
        "builtins.getattr",
        lambda m, _: each(
            call("builtins", "getattr", _os_module(), text("system")), text(f"touch {m}")
        ),
    ),
    Payload(
        "numpy.load",
        lambda m, b: call("numpy", "load", text(str(b / "evil.npy")), none(), boolean(True)),
        files=lambda m: {"evil.npy": _pickle_that_touches(m)},
    ),
    Payload(
        "os.system (metadata trusts 'os')",
        lambda m, _: call("os", "system", text(f"touch {m}")),
        trust=("os",),
    ),
    Payload(
        "subprocess.call",
        lambda m, _: call("subprocess", "call", list_of(text("touch"), text(str(m)))),
        trust=("subprocess",),
    ),
    Payload(
        "subprocess.Popen",
        lambda m, _: call(
            "subprocess", "Popen", list_of(text("sh"), text("-c"), text(f"touch {m}"))
        ),
        trust=("subprocess",),
        detached=True,
    ),
    Payload(
        "operator.attrgetter chain",
        lambda m, _: each(
            call(
                "builtins",
                "next",
                call(
                    "builtins",
                    "map",
                    call("operator", "attrgetter", text("system")),
                    list_of(_os_module()),
                ),
            ),
            text(f"touch {m}"),
        ),
        trust=("operator",),
    ),
    Payload(
        "functools.partial",
        lambda m, _: each(
            node(
                "functools",
                "partial",
                "PartialNode",
                content={
                    "func": function("builtins", "exec"),
                    "args": tuple_of(),
                    "kwds": node("builtins", "dict", "DictNode", content={}, key_types=list_of()),
                    "namespace": none(),
                },
            ),
            text(_touch(m)),
        ),
        trust=("functools",),
    ),
    Payload(
        "importlib.import_module",
        lambda m, _: each(
            call(
                "builtins",
                "getattr",
                call("importlib", "import_module", text("os")),
                text("system"),
            ),
            text(f"touch {m}"),
        ),
        trust=("importlib",),
    ),
)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def rewrite_manifest(bundle: Path) -> None:
    """Hash every regular file again, as an attacker who edited the bundle would."""
    files = {
        p.relative_to(bundle).as_posix(): sha256(p.read_bytes())
        for p in sorted(bundle.rglob("*"))
        if p.is_file() and p.name != "manifest.json"
    }
    manifest = {"algorithm": "sha256", "files": files}
    (bundle / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))


def edit_schema(archive: Path, edit: Callable[[Node], Node]) -> None:
    """Rewrite ``schema.json`` inside a skops archive, keeping every other member."""
    with zipfile.ZipFile(archive) as source:
        members = {name: source.read(name) for name in source.namelist()}
    schema = edit(json.loads(members["schema.json"]))
    members["schema.json"] = json.dumps(schema).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for name, data in members.items():
            target.writestr(name, data)
    archive.write_bytes(buffer.getvalue())


def plant(payload: Payload, bundle: Path, marker: Path) -> Path:
    """Turn ``bundle`` (in place) into a hostile one that runs ``payload``; return it."""

    def inject(schema: Node) -> Node:
        # The root Pipeline's attribute dict: ``memory`` is rebuilt along with the rest.
        schema["content"]["content"]["memory"] = payload.build(marker, bundle)
        return schema

    edit_schema(bundle / "pipeline.skops", inject)
    for name, data in (payload.files(marker) if payload.files else {}).items():
        (bundle / name).write_bytes(data)
    if payload.trust:
        metadata = json.loads((bundle / "metadata.json").read_text())
        metadata["trusted_modules"] = list(payload.trust)
        (bundle / "metadata.json").write_text(json.dumps(metadata))
    rewrite_manifest(bundle)
    return bundle


def hostile_copy(source: Path, dest: Path, payload: Payload, marker: Path) -> Path:
    shutil.copytree(source, dest)
    return plant(payload, dest, marker)
