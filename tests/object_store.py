"""A real S3 API on localhost for the tests: moto's standalone server (``moto_server``), started once per
session like Redis, and a fresh bucket per test."""

from __future__ import annotations

import secrets
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from .processes import free_port, wait_for

# moto takes any credentials; they are given as boto3 reads them, through the environment.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing-secret"}


@dataclass
class S3Server:
    url: str
    proc: subprocess.Popen

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.url, region_name="us-east-1",
                            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"])


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    port = free_port()
    log = open(tmp_path_factory.mktemp("s3") / "moto.log", "w")
    proc = subprocess.Popen([str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = S3Server(f"http://127.0.0.1:{port}", proc)
    try:
        wait_for(lambda: requests.get(server.url + "/", timeout=2).status_code == 200, timeout=30, what="moto_server")
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@dataclass
class Bucket:
    name: str
    server: S3Server

    def settings(self, endpoint: str | None = None) -> dict[str, str]:
        """As the app's config takes them (RECORDINGS_*), pointed at ``endpoint`` (default: the server)."""
        return {"RECORDINGS_BUCKET": self.name, "RECORDINGS_ENDPOINT_URL": endpoint or self.server.url,
                "RECORDINGS_REGION": "us-east-1", "RECORDINGS_ADDRESSING_STYLE": "path"}

    def env(self, endpoint: str | None = None) -> dict[str, str]:
        """As a process's environment takes them (IVR_RECORDINGS_*, and boto3's credentials)."""
        return {f"IVR_{k}": v for k, v in self.settings(endpoint).items()} | CREDENTIALS

    def create(self) -> "Bucket":
        self.server.client().create_bucket(Bucket=self.name)
        return self

    def keys(self) -> list[str]:
        listed = self.server.client().list_objects_v2(Bucket=self.name)
        return sorted(o["Key"] for o in listed.get("Contents", []))

    def read(self, key: str) -> bytes:
        return self.server.client().get_object(Bucket=self.name, Key=key)["Body"].read()


@pytest.fixture
def bucket(s3_server, monkeypatch) -> Bucket:
    """A new, empty bucket; boto3 in this process finds the credentials in the environment."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    return Bucket("recordings-" + secrets.token_hex(4), s3_server).create()


class HoldingProxy:
    """A TCP proxy to the S3 server that can hold uploads (PUT requests) unanswered: a slow store."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.hold = threading.Event()
        self.held = threading.Event()  # an upload arrived while holding
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self._open.append(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            first = client.recv(65536)
            if self.hold.is_set() and first.startswith(b"PUT "):
                self.held.set()
                while client.recv(65536):  # read the upload and never answer, until the uploader is gone
                    pass
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            self._open.append(upstream)
            upstream.sendall(first)
            threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()
            self._pipe(client, upstream)
        except OSError:
            pass

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        """Stop: held uploads are cut off and new connections refused at once (every socket shut down first:
        a bare close wakes neither the thread reading an upload nor the one accepting, and the uploader's retry
        would wait for its read timeout)."""
        for s in [self.listener, *self._open]:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
