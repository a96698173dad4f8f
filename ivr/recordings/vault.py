"""Voicemail audio on the clinic's own disk, encrypted at rest (ivr.protection.sealing).

One file per recording: ``DATA_DIR/recordings/<yyyy-mm>/<RecordingSid>.sealed``.
A file is written to a temporary name, flushed to disk and renamed, so a crash
leaves either the whole file or none; ``put`` reads it back and checks it opens
to the same bytes before it reports success (the pipeline deletes Twilio's copy
only after that).

With an object store (ivr.recordings.object_store), ``upload`` puts the sealed file's bytes, as they are, in the
bucket (key ``voicemail/<yyyy-mm>/<RecordingSid>.sealed``) and the voicemail's path becomes
``bucket:<key>``; ``get`` and ``remove`` take either kind of path.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ivr.recordings import object_store
from ivr.recordings.object_store import ObjectStore, ObjectStoreError
from ivr.protection.sealing import Sealer

_SID = re.compile(r"^RE[0-9a-fA-F]{32}$")


class VaultError(RuntimeError):
    """A recording could not be stored, or what is stored is not what was written."""


@dataclass(frozen=True)
class Stored:
    path: Path
    sha256: str  # of the audio, before sealing
    size: int  # bytes of audio


def _context(recording_sid: str) -> str:
    return f"recording:{recording_sid}"


class RecordingVault:
    def __init__(self, root: str | Path, sealer: Sealer, objects: ObjectStore | None = None) -> None:
        self.root = Path(root)
        self.sealer = sealer
        self.objects = objects  # the recordings bucket, when one is configured

    def path_for(self, recording_sid: str, when: dt.datetime | None = None) -> Path:
        if not _SID.match(recording_sid):
            raise VaultError(f"not a recording sid: {recording_sid!r}")
        month = (when or dt.datetime.now(dt.timezone.utc)).strftime("%Y-%m")
        return self.root / month / f"{recording_sid}.sealed"

    def put(self, recording_sid: str, audio: bytes) -> Stored:
        """Seal and write ``audio``, then verify the file. Raises VaultError."""
        path = self.path_for(recording_sid)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        blob = self.sealer.seal(audio, _context(recording_sid))
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(blob)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
            dir_fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise VaultError(f"cannot write {path}: {exc.strerror or exc}") from exc
        digest = hashlib.sha256(audio).hexdigest()
        if hashlib.sha256(self.get(path, recording_sid)).hexdigest() != digest:
            raise VaultError(f"{path} does not read back as written")
        return Stored(path, digest, len(audio))

    def get(self, path: str | Path, recording_sid: str) -> bytes:
        """The audio of a stored recording (decrypted), from the disk or the bucket. Raises VaultError."""
        key = object_store.key_of(str(path))
        if not key and self.objects is not None and not Path(path).exists():
            key = self._key_for(Path(path))  # uploaded since this path was read (a backup taken meanwhile, say)
        try:
            blob = self._bucket().get(key) if key else Path(path).read_bytes()
        except ObjectStoreError as exc:
            raise VaultError(str(exc)) from exc
        except OSError as exc:
            raise VaultError(f"cannot read the stored recording: {exc.strerror or exc}") from exc
        try:
            return self.sealer.open(blob, _context(recording_sid))
        except ValueError as exc:
            raise VaultError(f"stored recording does not open: {exc}") from exc

    def _bucket(self) -> ObjectStore:
        if self.objects is None:
            raise VaultError("the recording is in object storage, which is not configured here")
        return self.objects

    def upload(self, path: str | Path, recording_sid: str) -> str:
        """Put a stored file's sealed bytes in the bucket; returns the voicemail's new path (``bucket:…``).
        The file stays: the caller deletes it once the record points at the object. Raises VaultError."""
        path = Path(path)
        try:
            blob = path.read_bytes()
            self.sealer.open(blob, _context(recording_sid))  # never upload what would not open
        except OSError as exc:
            raise VaultError(f"cannot read the stored recording: {exc.strerror or exc}") from exc
        except ValueError as exc:
            raise VaultError(f"stored recording does not open: {exc}") from exc
        key = self._key_for(path)
        try:
            self._bucket().put(key, blob)
        except ObjectStoreError as exc:
            raise VaultError(str(exc)) from exc
        return object_store.SCHEME + key

    @staticmethod
    def _key_for(path: Path) -> str:
        return f"{object_store.PREFIX}{path.parent.name}/{path.name}"  # <yyyy-mm>/<sid>.sealed, as on disk

    def remove(self, path: str | Path) -> None:
        """Delete a stored recording, file or object (one already gone counts as deleted). Raises VaultError."""
        key = object_store.key_of(str(path))
        try:
            if key:
                self._bucket().delete(key)
            elif path:
                Path(path).unlink(missing_ok=True)
        except ObjectStoreError as exc:
            raise VaultError(str(exc)) from exc
        except OSError as exc:
            raise VaultError(f"cannot delete the stored recording: {exc.strerror or exc}") from exc

    def files(self) -> list[Path]:
        """The sealed files in the data folder (not temporary ones)."""
        return sorted(p for p in self.root.glob("*/RE*.sealed") if p.is_file()) if self.root.is_dir() else []
