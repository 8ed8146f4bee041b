"""The built-in deploy targets' pure parts: params, pinned requirements, the Dockerfile text."""

from __future__ import annotations

import sys
from importlib.metadata import distribution
from typing import TYPE_CHECKING

import pytest

from conveyor.components import _image
from conveyor.components.targets import BatchTarget, ContainerTarget, RestParams, RestTarget
from conveyor.errors import PluginError
from conveyor.plugins import DeployTarget, Plugins

if TYPE_CHECKING:
    from pathlib import Path


def test_the_targets_are_registered_through_entry_points() -> None:
    registry = Plugins.discover()["target"]
    assert {"rest", "container", "batch"} <= set(registry.names())
    assert registry.load("container", where="deploy.x.kind") is ContainerTarget
    assert issubclass(BatchTarget, DeployTarget)


def test_requirements_pin_the_serving_closure_and_leave_dev_tools_out() -> None:
    pins = dict(line.split("==") for line in _image.pinned_requirements())
    assert pins["conveyor-mlops"] == distribution("conveyor-mlops").version
    for needed in ("fastapi", "uvicorn", "prometheus-client", "orjson", "scikit-learn", "numpy"):
        assert pins[needed] == distribution(needed).version
    assert "starlette" in pins  # fastapi's own dependency: the closure, not just the roots
    assert not {"pytest", "mypy", "ruff", "hypothesis"} & set(pins)  # the dev extra
    # a fresh venv's setuptools is not an upgraded one's: pinning it made deploy/rest differ
    assert not {"pip", "setuptools", "wheel"} & set(pins)


@pytest.mark.skipif(
    sys.platform not in {"linux", "win32"}, reason="xgboost-cpu has wheels for Linux and Windows"
)
def test_requirements_pin_the_cpu_xgboost_wheel_and_no_nccl() -> None:
    import xgboost

    pins = dict(line.split("==") for line in _image.pinned_requirements())
    assert pins["xgboost-cpu"] == xgboost.__version__
    assert "xgboost" not in pins  # both wheels write the same files: never both in an image
    assert not [name for name in pins if name.startswith("nvidia-")]


@pytest.mark.parametrize(
    "image", ["python:3.11.7-slim", "ghcr.io/org/python:3.11", "python@sha256:" + "a" * 64]
)
def test_a_pinned_base_image_is_accepted(image: str) -> None:
    assert RestParams(base_image=image).base_image == image


def test_the_default_base_image_is_this_python() -> None:
    import sys

    assert RestParams().base_image == "python:{}.{}.{}-slim".format(*sys.version_info[:3])


def test_a_log_dir_is_created_for_the_server_user() -> None:
    params = RestParams(log_dir="logs", port=9000)
    text = _image.dockerfile(params, model="m", target="rest", wheel=None)
    assert "RUN mkdir -p /app/logs && chown conveyor /app/logs\nVOLUME /app/logs\n" in text
    assert "EXPOSE 9000\n" in text
    assert "127.0.0.1:9000/ping" in text
    assert _image.serve_config(params)["log_dir"] == "logs"


def test_outputs_are_declared_per_target_name() -> None:
    rest = RestTarget(RestParams())
    assert rest.outs("api") == ("deploy/api",)
    assert rest.reports("api") == ()
    batch = BatchTarget(BatchTarget.Params(input="data/in/*.csv"))
    assert batch.outs("nightly") == ("data/predictions/nightly.parquet",)
    assert batch.reports("nightly") == ("reports/predictions-nightly.json",)
    assert batch.deps() == ("data/in",)


def test_a_vcs_install_cannot_be_shipped_as_a_wheel(tmp_path: Path) -> None:
    install = _image.Install(False, reason="it was installed from git+https://x/conveyor")
    with pytest.raises(PluginError, match=r"installed from git\+https://x/conveyor") as caught:
        _image.build_wheel(install, tmp_path)
    assert caught.value.fix is not None
    assert "local checkout" in caught.value.fix


@pytest.mark.parametrize("source", ["data/*.csv", "data", "reports/*.json"])
def test_a_batch_input_around_its_own_output_is_refused(source: str) -> None:
    from pydantic import ValidationError

    from conveyor.components.targets import BatchParams

    with pytest.raises(ValidationError, match=r"holds the stage's own output.*data/incoming"):
        BatchParams(input=source)
    assert BatchParams(input="data/incoming/*.csv").input == "data/incoming/*.csv"


def test_the_served_directory_listens_on_loopback_and_the_image_on_all() -> None:
    import json

    from conveyor.serving.config import from_mapping

    params = RestParams()
    serve = _image.serve_config(params)
    assert "host" not in serve  # a laptop's 'conveyor serve deploy/rest': loopback
    assert from_mapping(json.loads(json.dumps(serve)), where="serve.json").host == "127.0.0.1"
    text = _image.dockerfile(params, model="m", target="rest", wheel=None)
    cmd = 'CMD ["conveyor", "serve", "/app", "--config", "/app/serve.json", "--host", "0.0.0.0"]'
    assert text.endswith(cmd + "\n")


def test_a_host_the_config_asks_for_goes_to_serve_json_and_the_image() -> None:
    params = RestParams(host="::")
    assert _image.serve_config(params)["host"] == "::"
    text = _image.dockerfile(params, model="m", target="rest", wheel=None)
    assert text.endswith('"--host", "::"]\n')
