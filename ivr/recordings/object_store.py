"""Voicemail recordings in S3-compatible object storage (AWS S3, Ceph RGW, SeaweedFS, Garage, MinIO), by boto3.

Off by default: recordings stay in the data folder (ivr.recordings.vault), which is all one machine needs. With
``IVR_RECORDINGS_BUCKET`` set, every sealed recording is uploaded to that bucket under ``voicemail/``
with the same bytes as the file on disk (sealed with the data key before it leaves the machine: the
store never sees audio), so a console served by any machine plays any message. The local sealed file
is the outbox: it is deleted only once the bucket holds the object (the upload's Content-MD5 checked
by the store), and a worker on the machine that holds it uploads it again until it does
(``ivr.workers.voicemail.upload_pending``).

Settings: ``IVR_RECORDINGS_ENDPOINT_URL`` (empty: AWS), ``IVR_RECORDINGS_REGION``,
``IVR_RECORDINGS_ADDRESSING_STYLE`` (``path``, the default, which on-premises stores expect, or
``virtual``). Credentials come from boto3's usual chain (``AWS_ACCESS_KEY_ID`` and
``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE``, an instance role), never from this repository's files.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Callable, Iterator, Mapping

PREFIX = "voicemail/"  # every key the app writes starts with this (a shared bucket keeps the rest)
SCHEME = "bucket:"  # a voicemail's ``path`` that names an object, not a file: "bucket:voicemail/2026-12/RE….sealed"
STYLES = ("path", "virtual")
KEY = re.compile(r"voicemail/\d{4}-\d{2}/RE[0-9a-fA-F]{32}\.sealed")  # the keys the app writes (and reads back)


class ObjectStoreError(RuntimeError):
    """The object store could not be reached or refused a request; the message says which (no secrets)."""


@dataclass(frozen=True)
class BucketSettings:
    bucket: str
    endpoint_url: str = ""
    region: str = ""
    addressing_style: str = "path"

    @classmethod
    def from_config(cls, config: Mapping) -> "BucketSettings | None":
        """From IVR_RECORDINGS_* (None when no bucket is set). Raises ValueError for an unknown addressing style."""
        bucket = str(config.get("RECORDINGS_BUCKET") or "").strip()
        if not bucket:
            return None
        style = str(config.get("RECORDINGS_ADDRESSING_STYLE") or "path").strip().lower()
        if style not in STYLES:
            raise ValueError(f"the recordings bucket's addressing style is {style!r}: use path or virtual")
        return cls(bucket, str(config.get("RECORDINGS_ENDPOINT_URL") or "").strip(),
                   str(config.get("RECORDINGS_REGION") or "").strip(), style)


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    modified: dt.datetime


class ObjectStore:
    """One bucket, reached with boto3 (a client per process, made on first use)."""

    def __init__(self, settings: BucketSettings) -> None:
        self.settings = settings
        self.bucket = settings.bucket

    @cached_property
    def _client(self):
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.settings.endpoint_url or None,
            region_name=self.settings.region or None,
            config=Config(
                s3={"addressing_style": self.settings.addressing_style},
                connect_timeout=5,
                read_timeout=20,
                retries={"mode": "standard", "max_attempts": 3},
                # Content-MD5 (below) is what every S3-compatible store checks; the newer CRC headers
                # that boto3 sends by default are refused by some on-premises stores.
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )

    def _call(self, what: str, request: Callable):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return request(self._client)
        except ClientError as exc:
            err = exc.response.get("Error", {})
            raise ObjectStoreError(f"the object store refused to {what} ({err.get('Code') or 'error'})") from None
        except BotoCoreError as exc:
            raise ObjectStoreError(f"cannot {what} in the object store ({type(exc).__name__})") from None

    def put(self, key: str, blob: bytes) -> None:
        md5 = base64.b64encode(hashlib.md5(blob, usedforsecurity=False).digest()).decode()
        self._call("store a recording", lambda s3: s3.put_object(
            Bucket=self.bucket, Key=key, Body=blob, ContentMD5=md5, ContentType="application/octet-stream"))

    def get(self, key: str) -> bytes:
        return self._call("read a recording", lambda s3: s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def delete(self, key: str) -> None:
        """Delete one object (one already gone counts as deleted)."""
        self._call("delete a recording", lambda s3: s3.delete_object(Bucket=self.bucket, Key=key))

    def objects(self) -> Iterator[StoredObject]:
        """Every recording the app wrote (keys like KEY; anything else under PREFIX is not ours)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            for page in self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=PREFIX):
                for item in page.get("Contents", []):
                    if KEY.fullmatch(item["Key"]):
                        yield StoredObject(item["Key"], int(item["Size"]), item["LastModified"])
        except (ClientError, BotoCoreError) as exc:
            raise ObjectStoreError(f"cannot list the recordings in the object store ({type(exc).__name__})") from None


def from_config(config: Mapping) -> ObjectStore | None:
    """The recordings bucket these settings name, or None (recordings in the data folder only)."""
    settings = BucketSettings.from_config(config)
    return ObjectStore(settings) if settings else None


def key_of(path: str) -> str | None:
    """The object key of a voicemail's ``path``, or None when it is a file."""
    return path[len(SCHEME):] if path.startswith(SCHEME) else None
