"""Where completed checkpoints and savepoints are kept: a protocol and a local-directory store.

Port of Flink's ``CheckpointStorage`` / ``FileSystemCheckpointStorage`` and its on-disk layout.
A completed checkpoint arrives as a small JSON-plain metadata dict plus named, already encoded
blobs (one per task subtask), and is written as::

    <directory>/chk-<n>/<blob name>     one file per blob, the bytes as given
    <directory>/chk-<n>/_metadata       JSON (``checkpoint_encoding.encode_json``), written LAST

``_metadata`` holds the checkpoint id, the timestamp, the caller's metadata and each blob's
name, size and crc32; a human can ``cat`` it. Blob names must be safe file names (letters,
digits, ``.``, ``_``, ``-``; not starting with ``.``, ``_`` or ``-``, which keeps them apart from
``_metadata`` and its temporary file).

Guarantees of ``FileSystemCheckpointStorage``:

- **Complete means durable.** Every blob is written and fsync'd, the directory is fsync'd, then
  ``_metadata`` is written under a temporary name, fsync'd, renamed with ``os.replace`` and the
  directories fsync'd again. ``write`` returns only after that. A ``chk-<n>/`` without
  ``_metadata`` (a crash mid-write) is incomplete: ``latest`` never returns it, and the next
  ``write`` removes it once a newer checkpoint is complete. A ``write`` that fails removes what it
  wrote and raises ``CheckpointError``.
- **Retention after completion** (Flink's ``state.checkpoints.num-retained``): once the new
  checkpoint is complete, completed checkpoints beyond the newest ``retained`` are deleted, never
  before, so a failing write always leaves the previous checkpoint in place. Deletion removes
  ``_metadata`` first, so a half-deleted directory is incomplete rather than a complete
  checkpoint with missing blobs. A failed deletion is logged, not raised: the new checkpoint is
  already durable.
- **Ids increase.** ``write`` refuses an id not above the newest complete checkpoint in the
  directory (after a restore, continue from the restored id + 1); otherwise ``latest`` would
  return the older run's checkpoint.
- **A corrupt latest checkpoint is loud.** ``latest`` returns the highest ``chk-<n>`` whose
  ``_metadata`` exists and decodes; when that file exists but is truncated, corrupt or of another
  format version it raises ``CheckpointError`` naming the file instead of silently falling back
  to an older checkpoint, which would replay a different past (offsets, transactions) without
  anyone noticing. To fall back deliberately, move the bad directory away.
- **Reads verify everything.** ``read`` checks each blob's size and crc32 against ``_metadata``
  and names the full path of the first file that is missing or does not match.

One writer per directory: two processes writing checkpoints into the same directory would
delete each other's work. Methods are synchronous and blocking; the runtime calls them through
``asyncio.to_thread``, so an object-store implementation fits the same protocol.

**Savepoints** are module-level functions rather than a storage: ``write_savepoint(parent, ...)``
creates ``<parent>/savepoint-<n>-<12 hex digits>/`` (Flink's savepoint naming, with the
checkpoint id where Flink puts a job-id prefix) in the same layout, and nothing in this module
ever deletes it; ``read_savepoint`` takes that directory or its ``_metadata`` file. A checkpoint
storage only ever lists, deletes or discards ``chk-<n>`` directories of its own directory, so
savepoints kept next to checkpoints are safe from retention.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import sys
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol, TypeGuard

from streamrt.errors import CheckpointError, ConfigError
from streamrt.runtime.checkpoint_encoding import decode_json, encode_json, verify

__all__ = [
    "METADATA_FILE",
    "CheckpointStorage",
    "FileSystemCheckpointStorage",
    "StoredCheckpoint",
    "read_savepoint",
    "write_savepoint",
]

logger = logging.getLogger(__name__)

METADATA_FILE: Final = "_metadata"
"""The file that makes a checkpoint directory complete (Flink's name)."""

_CHECKPOINT_DIR: Final = re.compile(r"chk-([1-9][0-9]*)")
_BLOB_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
_BLOB_NAME_RULE: Final = (
    "blob names are file names of letters, digits, '.', '_' and '-' (at most 200), "
    "starting with a letter or digit"
)


@dataclass(frozen=True)
class StoredCheckpoint:
    """A checkpoint or savepoint as read back from storage.

    Attributes:
        checkpoint_id: the id it was written under.
        timestamp_ms: when it was triggered, as given to ``write``.
        metadata: the caller's metadata, equal to what was written.
        blobs: every blob by name, verified against its recorded size and crc32.
        location: where it lives (for the file system: the full path of its directory).
    """

    checkpoint_id: int
    timestamp_ms: int
    metadata: dict[str, Any]
    blobs: dict[str, bytes]
    location: str

    def blob_source(self, name: str) -> str:
        """Where blob ``name`` lives, for error messages (``decode(blob, source)``)."""
        return os.path.join(self.location, name)


class CheckpointStorage(Protocol):
    """Keeps completed checkpoints durably (Flink's ``CheckpointStorage``).

    Methods block; the runtime calls them in a worker thread (``asyncio.to_thread``).
    """

    def write(
        self,
        checkpoint_id: int,
        timestamp_ms: int,
        metadata: Mapping[str, Any],
        blobs: Mapping[str, bytes],
    ) -> str:
        """Store a completed checkpoint; it is complete and durable when this returns.

        Returns:
            Its location, as ``latest`` returns it and ``read`` and ``discard`` take it.

        Raises:
            CheckpointError: the checkpoint cannot be stored; nothing of it is left behind
                as complete, and older checkpoints are untouched.
        """
        ...

    def latest(self) -> str | None:
        """The location of the newest complete checkpoint, or ``None`` when there is none.

        Raises:
            CheckpointError: the newest checkpoint's metadata is unreadable.
        """
        ...

    def latest_id(self) -> int:
        """The id of the newest complete checkpoint (0 when there is none).

        A new checkpoint must have a higher id: a job that starts afresh on a storage that
        already holds checkpoints continues their numbering.
        """
        ...

    def read(self, location: str) -> StoredCheckpoint:
        """Load the checkpoint at ``location``, verifying every blob.

        Raises:
            CheckpointError: something is missing, truncated or corrupt; names what.
        """
        ...

    def discard(self, location: str) -> None:
        """Delete the checkpoint at ``location`` (nothing happens when it is already gone).

        Raises:
            CheckpointError: ``location`` is not a checkpoint of this storage, or cannot be
                deleted.
        """
        ...


class FileSystemCheckpointStorage:
    """Checkpoints in a local directory, Flink's ``chk-<n>/`` layout (see the module docstring).

    Port of Flink's ``FileSystemCheckpointStorage``. Differences: local paths only, no shared
    or task-owned state directories, ``retained`` is applied by the storage itself (Flink's
    ``CompletedCheckpointStore`` does it there), and ids must increase.

    Args:
        directory: where ``chk-<n>/`` directories go; created on the first ``write``.
        retained: how many completed checkpoints to keep (``state.checkpoints.num-retained``).

    Raises:
        ConfigError: ``retained`` is below 1.
    """

    def __init__(self, directory: str | os.PathLike[str], *, retained: int = 1) -> None:
        if isinstance(retained, bool) or not isinstance(retained, int) or retained < 1:
            msg = f"retained checkpoints must be an int >= 1; got {retained!r}"
            raise ConfigError(msg)
        self._directory = Path(os.path.abspath(directory))
        self._retained = retained

    @property
    def directory(self) -> str:
        """The full path of the directory holding the ``chk-<n>/`` directories."""
        return str(self._directory)

    @property
    def retained(self) -> int:
        """How many completed checkpoints are kept."""
        return self._retained

    def __repr__(self) -> str:
        return f"FileSystemCheckpointStorage({self.directory!r}, retained={self._retained})"

    def write(
        self,
        checkpoint_id: int,
        timestamp_ms: int,
        metadata: Mapping[str, Any],
        blobs: Mapping[str, bytes],
    ) -> str:
        """Write ``chk-<checkpoint_id>/``, then apply retention; see the module docstring.

        Returns:
            The full path of the new checkpoint directory.

        Raises:
            CheckpointError: an argument is invalid (id, timestamp, blob name, metadata that
                is not JSON-plain), the id is not above the newest complete checkpoint, or
                the file system failed; older checkpoints are untouched.
        """
        document = _metadata_document(checkpoint_id, timestamp_ms, metadata, blobs)
        try:
            self._directory.mkdir(parents=True, exist_ok=True)
            complete, incomplete = self._scan()
        except OSError as exc:
            msg = f"cannot write checkpoint {checkpoint_id} to {self._directory}: {exc}"
            raise CheckpointError(msg) from exc
        if complete and checkpoint_id <= max(complete):
            msg = (
                f"checkpoint {checkpoint_id} is not newer than the latest complete checkpoint "
                f"{max(complete)} in {self._directory}; checkpoint ids must increase "
                f"(after a restore, continue from the restored id + 1)"
            )
            raise CheckpointError(msg)
        target = self._directory / f"chk-{checkpoint_id}"
        if checkpoint_id in incomplete:  # left by a crash while writing this same id
            _remove_checkpoint_dir(target)
        _write_checkpoint_dir(target, checkpoint_id, document, blobs)
        self._subsume(checkpoint_id, complete, incomplete)
        return str(target)

    def latest(self) -> str | None:
        """The full path of the highest complete ``chk-<n>/``, or ``None``.

        Raises:
            CheckpointError: the highest ``chk-<n>/`` with a ``_metadata`` file cannot be
                decoded (truncated, corrupt, another format version); named in the message.
        """
        try:
            complete, _incomplete = self._scan()
        except FileNotFoundError:
            return None
        except OSError as exc:
            msg = f"cannot list checkpoints in {self._directory}: {exc}"
            raise CheckpointError(msg) from exc
        if not complete:
            return None
        newest = complete[max(complete)]
        _read_metadata(newest / METADATA_FILE)  # loud on a corrupt latest, see module docstring
        return str(newest)

    def latest_id(self) -> int:
        """The id of the highest complete ``chk-<n>/`` (0 when there is none)."""
        try:
            complete, _incomplete = self._scan()
        except FileNotFoundError:
            return 0
        except OSError as exc:
            msg = f"cannot list checkpoints in {self._directory}: {exc}"
            raise CheckpointError(msg) from exc
        return max(complete, default=0)

    def read(self, location: str) -> StoredCheckpoint:
        """Load the checkpoint at ``location`` (its directory or its ``_metadata`` file).

        Raises:
            CheckpointError: the directory or ``_metadata`` is missing, ``_metadata`` cannot
                be decoded, or a blob is missing, truncated or fails its crc32; names the file.
        """
        return _read_checkpoint_dir(_checkpoint_dir_of(location))

    def discard(self, location: str) -> None:
        """Delete the checkpoint at ``location``, ``_metadata`` first; gone already is fine.

        Raises:
            CheckpointError: ``location`` is not a ``chk-<n>`` directory of this storage (a
                savepoint, say), or the file system failed.
        """
        path = Path(os.path.abspath(location))
        if path.parent != self._directory or not _CHECKPOINT_DIR.fullmatch(path.name):
            msg = (
                f"{path} is not a checkpoint of this storage (chk-<n> in {self._directory}); "
                f"a checkpoint storage never deletes anything else, savepoints included"
            )
            raise CheckpointError(msg)
        _remove_checkpoint_dir(path)

    def _scan(self) -> tuple[dict[int, Path], dict[int, Path]]:
        """The ``chk-<n>`` directories by id: (with ``_metadata``, without)."""
        complete: dict[int, Path] = {}
        incomplete: dict[int, Path] = {}
        with os.scandir(self._directory) as entries:
            for entry in entries:
                match = _CHECKPOINT_DIR.fullmatch(entry.name)
                if match is None or not entry.is_dir(follow_symlinks=False):
                    continue
                path = Path(entry.path)
                found = complete if (path / METADATA_FILE).is_file() else incomplete
                found[int(match.group(1))] = path
        return complete, incomplete

    def _subsume(self, new_id: int, complete: dict[int, Path], incomplete: dict[int, Path]) -> None:
        """Delete completed checkpoints beyond ``retained`` and incomplete older ones."""
        kept = sorted([*complete, new_id], reverse=True)[: self._retained]
        doomed = [path for cid, path in complete.items() if cid not in kept]
        doomed += [path for cid, path in incomplete.items() if cid < new_id]
        for path in doomed:
            try:
                _remove_checkpoint_dir(path)
            except CheckpointError as exc:
                # the new checkpoint is durable; a leftover is retried on the next write
                logger.warning("cannot delete an old checkpoint after %s: %s", new_id, exc)


def write_savepoint(
    directory: str | os.PathLike[str],
    checkpoint_id: int,
    timestamp_ms: int,
    metadata: Mapping[str, Any],
    blobs: Mapping[str, bytes],
) -> str:
    """Write a savepoint into a new ``savepoint-<checkpoint_id>-<random>/`` under ``directory``.

    Same layout and durability as a checkpoint; nothing in streamrt ever deletes it.

    Args:
        directory: the parent directory (Flink's ``execution.checkpointing.savepoint-dir``),
            created when missing.
        checkpoint_id: the id of the checkpoint this savepoint was taken as.
        timestamp_ms: when it was triggered.
        metadata: JSON-plain metadata, as for a checkpoint.
        blobs: encoded blobs by safe file name, as for a checkpoint.

    Returns:
        The full path of the new savepoint directory.

    Raises:
        CheckpointError: an argument is invalid or the file system failed; nothing of the
            savepoint is left behind.
    """
    document = _metadata_document(checkpoint_id, timestamp_ms, metadata, blobs)
    parent = Path(os.path.abspath(directory))
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        msg = f"cannot write savepoint {checkpoint_id} to {parent}: {exc}"
        raise CheckpointError(msg) from exc
    target = parent / f"savepoint-{checkpoint_id}-{secrets.token_hex(6)}"
    _write_checkpoint_dir(target, checkpoint_id, document, blobs)
    return str(target)


def read_savepoint(path: str | os.PathLike[str]) -> StoredCheckpoint:
    """Load the savepoint (or retained checkpoint) at ``path``: its directory or ``_metadata``.

    Raises:
        CheckpointError: as ``FileSystemCheckpointStorage.read``.
    """
    return _read_checkpoint_dir(_checkpoint_dir_of(path))


def _metadata_document(
    checkpoint_id: int,
    timestamp_ms: int,
    metadata: Mapping[str, Any],
    blobs: Mapping[str, bytes],
) -> bytes:
    """Validate everything and encode ``_metadata`` before a single file is touched."""
    if isinstance(checkpoint_id, bool) or not isinstance(checkpoint_id, int) or checkpoint_id < 1:
        msg = f"checkpoint id must be an int >= 1; got {checkpoint_id!r}"
        raise CheckpointError(msg)
    if isinstance(timestamp_ms, bool) or not isinstance(timestamp_ms, int) or timestamp_ms < 0:
        msg = (
            f"timestamp_ms must be an int >= 0; got {timestamp_ms!r} for checkpoint {checkpoint_id}"
        )
        raise CheckpointError(msg)
    index: dict[str, Any] = {}
    for name, data in blobs.items():
        if not isinstance(name, str) or not _BLOB_NAME.fullmatch(name):
            msg = f"blob name {name!r} is not a safe file name; {_BLOB_NAME_RULE}"
            raise CheckpointError(msg)
        if not isinstance(data, bytes | bytearray | memoryview):
            msg = f"blob {name!r} is a {type(data).__name__}; blobs must be bytes (encode() them)"
            raise CheckpointError(msg)
        index[name] = {"size": len(data), "crc32": zlib.crc32(data)}
    return encode_json(
        {
            "checkpoint_id": checkpoint_id,
            "timestamp_ms": timestamp_ms,
            "blobs": index,
            "metadata": dict(metadata),
        }
    )


def _write_checkpoint_dir(
    target: Path, checkpoint_id: int, document: bytes, blobs: Mapping[str, bytes]
) -> None:
    """Create ``target`` with every blob, then ``_metadata`` atomically; all or nothing."""
    created = False
    try:
        target.mkdir()
        created = True
        for name, data in blobs.items():
            _write_file(target / name, data)
        _fsync_dir(target)  # the blob entries are durable before _metadata can point at them
        temporary = target / f"{METADATA_FILE}.{secrets.token_hex(4)}.inprogress"
        _write_file(temporary, document)
        os.replace(temporary, target / METADATA_FILE)
        _fsync_dir(target)
        _fsync_dir(target.parent)
    except BaseException as exc:
        if created:
            try:
                _remove_checkpoint_dir(target)
            except CheckpointError as cleanup:
                logger.warning("cannot remove the failed checkpoint %s: %s", target, cleanup)
        if isinstance(exc, OSError):
            msg = f"cannot write checkpoint {checkpoint_id} to {target}: {exc}"
            raise CheckpointError(msg) from exc
        raise


def _write_file(path: Path, data: bytes) -> None:
    with path.open("xb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


def _fsync_dir(path: Path) -> None:
    """Make the entries of directory ``path`` durable (renames, new files)."""
    if sys.platform == "win32":  # a directory cannot be opened there; NTFS journals entries
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_checkpoint_dir(path: Path) -> None:
    """Delete a checkpoint directory, ``_metadata`` first so it is never half complete."""
    try:
        (path / METADATA_FILE).unlink(missing_ok=True)
        shutil.rmtree(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        msg = f"cannot delete checkpoint directory {path}: {exc}"
        raise CheckpointError(msg) from exc


def _checkpoint_dir_of(location: str | os.PathLike[str]) -> Path:
    path = Path(os.path.abspath(location))
    return path.parent if path.name == METADATA_FILE else path


def _read_checkpoint_dir(directory: Path) -> StoredCheckpoint:
    if not directory.is_dir():
        msg = f"no checkpoint at {directory}: the directory does not exist"
        raise CheckpointError(msg)
    metadata_path = directory / METADATA_FILE
    if not metadata_path.exists():
        msg = (
            f"{directory} is not a complete checkpoint: {metadata_path} is missing "
            f"(the write did not finish)"
        )
        raise CheckpointError(msg)
    checkpoint_id, timestamp_ms, index, metadata = _read_metadata(metadata_path)
    blobs: dict[str, bytes] = {}
    for name, (size, crc) in index.items():
        path = directory / name
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            msg = f"{path} is missing; {metadata_path} lists it"
            raise CheckpointError(msg) from exc
        except OSError as exc:
            msg = f"cannot read {path}: {exc}"
            raise CheckpointError(msg) from exc
        verify(data, size, crc, str(path), f"bytes where {metadata_path} records")
        blobs[name] = data
    return StoredCheckpoint(checkpoint_id, timestamp_ms, metadata, blobs, str(directory))


def _read_metadata(
    path: Path,
) -> tuple[int, int, dict[str, tuple[int, int]], dict[str, Any]]:
    """Decode and check ``_metadata``: (id, timestamp, {blob: (size, crc32)}, metadata)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        msg = f"cannot read {path}: {exc}"
        raise CheckpointError(msg) from exc
    document = decode_json(data, str(path))
    problem = _metadata_problem(document)
    if problem is not None:
        msg = f"{path} is not a streamrt checkpoint metadata file: {problem}"
        raise CheckpointError(msg)
    index = {name: (entry["size"], entry["crc32"]) for name, entry in document["blobs"].items()}
    return document["checkpoint_id"], document["timestamp_ms"], index, document["metadata"]


def _metadata_problem(document: dict[str, Any]) -> str | None:
    """What is wrong with the fields of a decoded ``_metadata``, or ``None``."""
    for field in ("checkpoint_id", "timestamp_ms"):
        if not _is_int(document.get(field)):
            return f"{field!r} must be an int; got {document.get(field)!r}"
    for field in ("metadata", "blobs"):
        if not isinstance(document.get(field), dict):
            return f"{field!r} must be an object; got {document.get(field)!r}"
    for name, entry in document["blobs"].items():
        # a tampered _metadata must not make read() open files outside the directory
        if not _BLOB_NAME.fullmatch(name):
            return f"blob name {name!r} is not a safe file name; {_BLOB_NAME_RULE}"
        if not (
            isinstance(entry, dict) and _is_int(entry.get("size")) and _is_int(entry.get("crc32"))
        ):
            return f"blob {name!r} must be an object with int 'size' and 'crc32'; got {entry!r}"
    return None


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)
