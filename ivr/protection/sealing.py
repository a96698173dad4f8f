"""Encryption at rest for patient data: voicemail audio and transcripts.

AES-256-GCM (the ``cryptography`` package). Each sealed item has its own random
nonce and is bound to what it is (``context``, e.g. ``recording:RE…``), so a
file or field copied onto another one does not open.

Keys come from ``IVR_DATA_KEY``: one or more comma-separated keys, each 32
random bytes in URL-safe base64 (``ivr data-key`` prints a new one). The first
seals; all of them open, so a key can be rotated by putting the new one first.
Without ``IVR_DATA_KEY`` an install makes its own key in ``DATA_DIR/data-key``
(mode 0600) and warns: that protects copies of the data made without the key
file (backups, a stolen disk image of the data folder alone), not a thief with
the whole disk, so production sets IVR_DATA_KEY from a secret store.

Layout of a sealed blob: ``b"IVR1"``, 4-byte key id (first bytes of the key's
SHA-256), 12-byte nonce, ciphertext with the 16-byte tag. Text tokens are
``s1:`` + URL-safe base64 of such a blob.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ivr.config import _local_secret

log = logging.getLogger(__name__)

MAGIC = b"IVR1"
TEXT_PREFIX = "s1:"
_HEADER = len(MAGIC) + 4 + 12


class SealError(ValueError):
    """A sealed item could not be opened: wrong key, tampered or not sealed at all."""


class DataKeyError(ValueError):
    """IVR_DATA_KEY is malformed."""


def new_key() -> str:
    """A fresh data key, as IVR_DATA_KEY takes it."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def _decode_key(text: str) -> bytes:
    text = text.strip()
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise DataKeyError("IVR_DATA_KEY must be 32 random bytes in URL-safe base64 (make one with `ivr data-key`)")
    return raw


class Sealer:
    """Seals and opens bytes and text with the install's data keys."""

    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise DataKeyError("no data key")
        self._keys = {hashlib.sha256(k).digest()[:4]: AESGCM(k) for k in keys}
        self._sealing_id = hashlib.sha256(keys[0]).digest()[:4]

    @classmethod
    def from_settings(cls, data_key: str, data_dir: str | Path) -> "Sealer":
        """From IVR_DATA_KEY (``data_key``), else the install's own key file under ``data_dir``."""
        if data_key.strip():
            return cls([_decode_key(part) for part in data_key.split(",") if part.strip()])
        path = Path(data_dir) / "data-key"
        if not path.exists():
            log.warning(
                "IVR_DATA_KEY is not set: recordings and transcripts are encrypted with a key kept in %s; "
                "set IVR_DATA_KEY from a secret store in production",
                path,
            )
        return cls([bytes.fromhex(_local_secret(path, nbytes=32))])

    @property
    def key_id(self) -> str:
        return self._sealing_id.hex()

    def seal(self, data: bytes, context: str) -> bytes:
        nonce = os.urandom(12)
        return MAGIC + self._sealing_id + nonce + self._keys[self._sealing_id].encrypt(nonce, data, context.encode())

    def open(self, blob: bytes, context: str) -> bytes:
        if len(blob) < _HEADER + 16 or not blob.startswith(MAGIC):
            raise SealError("not sealed data")
        key = self._keys.get(blob[4:8])
        if key is None:
            raise SealError(f"sealed with another data key (id {blob[4:8].hex()}); is IVR_DATA_KEY complete?")
        try:
            return key.decrypt(blob[8:20], blob[20:], context.encode())
        except InvalidTag:
            raise SealError("sealed data does not open: tampered with, or not the item it claims to be") from None

    def seal_text(self, text: str, context: str) -> str:
        """A token safe to keep in Redis; "" stays "" (nothing to hide)."""
        if not text:
            return ""
        return TEXT_PREFIX + base64.urlsafe_b64encode(self.seal(text.encode(), context)).decode()

    def open_text(self, token: str, context: str) -> str:
        if not token:
            return ""
        if not token.startswith(TEXT_PREFIX):
            raise SealError("not a sealed text")
        try:
            blob = base64.urlsafe_b64decode(token[len(TEXT_PREFIX):])
        except (binascii.Error, ValueError):
            raise SealError("sealed text is damaged") from None
        return self.open(blob, context).decode()
