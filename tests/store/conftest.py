"""Fixtures for the store suite: fills to feed, LMDB in temp dirs, and a real moto S3 server in a subprocess.

moto runs as ``python -m moto.server`` in a child process: in-process ThreadedMotoServer deadlocks because
ArcticDB's library-manager calls hold the GIL while they wait for the server (stack-notes A6).
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
from pathlib import Path

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

    def pause(self) -> None:
        """Stop the server (SIGSTOP): connections hang, state is kept, like a storage outage."""
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)


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
def lmdb_uri(tmp_path: Path) -> str:
    return f"lmdb://{tmp_path}/arctic"


@pytest.fixture(params=["lmdb", "s3"])
def any_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "lmdb":
        return f"lmdb://{tmp_path}/arctic"
    server: MotoServer = request.getfixturevalue("moto_server")
    return server.uri(server.new_bucket())
