"""A real S3 for tests: moto's server in a child process, one bucket per test (a pytest plugin).

Registered in tests/conftest.py so the store suite and the scale-out suite share one server per session.
moto runs as ``python -m moto.server`` in a child process: in-process ThreadedMotoServer deadlocks because
ArcticDB's library-manager calls hold the GIL while they wait for the server (stack-notes A6). The module
is not called ``moto`` so it never shadows the moto package.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_REGION", "us-east-1")


@dataclass
class MotoServer:
    host: str
    port: int
    process: subprocess.Popen[bytes]

    def uri(self, bucket: str) -> str:
        return f"s3://{self.host}:{bucket}?port={self.port}&access=testing&secret=testing&region=us-east-1"

    def new_bucket(self) -> str:
        import boto3

        bucket = f"mats-{uuid.uuid4().hex[:12]}"
        client = boto3.client(
            "s3",
            endpoint_url=f"http://{self.host}:{self.port}",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )
        client.create_bucket(Bucket=bucket)
        return bucket

    watchdog: subprocess.Popen[bytes] | None = None

    def pause(self, *, resume_within: float | None = None) -> None:
        """Stop the server (SIGSTOP): connections hang, state is kept, like a storage outage.

        ``resume_within``: a separate process sends SIGCONT after that many seconds even if this one froze
        (an ArcticDB library-manager call waiting on a stopped server holds the GIL, so no thread of ours
        could), turning such a freeze into a failing test instead of a hung suite."""
        os.kill(self.process.pid, signal.SIGSTOP)
        if resume_within is not None:
            script = f"sleep {resume_within}; kill -CONT {self.process.pid}"
            self.watchdog = subprocess.Popen(["sh", "-c", script])

    def resume(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)
        if self.watchdog is not None:
            self.watchdog.kill()
            self.watchdog.wait()
            self.watchdog = None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    port = _free_port()
    env = {**os.environ, "AWS_EC2_METADATA_DISABLED": "true", "AWS_DEFAULT_REGION": "us-east-1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    deadline = time.monotonic() + 30
    while True:  # polling a condition with a deadline: moto gives no readiness signal but its socket
        if proc.poll() is not None:
            raise RuntimeError(f"moto server exited with {proc.returncode} before listening on {port}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"moto server did not listen on 127.0.0.1:{port} within 30 s") from None
            time.sleep(0.05)
    server = MotoServer("127.0.0.1", port, proc)
    try:
        yield server
    finally:
        server.resume()
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture
def s3_uri(moto_server: MotoServer) -> str:
    """An ``s3://`` URI ArcticDB accepts, on a fresh bucket of the session's moto server."""
    return moto_server.uri(moto_server.new_bucket())
