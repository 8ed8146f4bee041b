"""A real, throwaway ``mlflow server`` for the tests: SQLite backend, proxied artifacts in tmp.

Started on a free loopback port; ``url`` answers ``/health`` once it is up. ``stop`` ends the
process group it started (uvicorn and its workers), and nothing else.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

MLFLOW = Path(sys.executable).parent / "mlflow"


def free_port() -> int:
    """A loopback port nobody listens on (right now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class MlflowServer:
    """One running server."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    @classmethod
    def start(cls, folder: Path, *, wait: float = 120) -> MlflowServer:
        """Start a server whose store and artifacts live in ``folder``; wait for /health."""
        port = free_port()
        log = folder / "server.log"
        command = [
            str(MLFLOW),
            "server",
            "--backend-store-uri",
            f"sqlite:///{folder / 'mlflow.db'}",
            "--artifacts-destination",
            str(folder / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ]
        # Without MLflow's job runner: it starts huey consumer processes (each importing mlflow,
        # then polling) for server-side GenAI jobs that conveyor never submits.
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        with log.open("wb") as out:
            process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=env
            )
        server = cls(process, f"http://127.0.0.1:{port}", log)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"mlflow server exited:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{server.url}/health", timeout=2):  # noqa: S310
                    return server
            except OSError:
                time.sleep(0.5)
        server.stop()
        raise RuntimeError(f"mlflow server did not answer in {wait} s:\n{log.read_text()[-3000:]}")

    def stop(self) -> None:
        """End the server's process group (only the one it started).

        SIGKILL at once: a graceful stop took 4-5 s of the 'mlflow server' parent, for a
        throwaway store that nothing reads afterwards.
        """
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
