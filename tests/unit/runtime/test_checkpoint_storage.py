"""Checkpoints are complete only once durable, older ones go only after, and damage is loud."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from pathlib import Path

import pytest

from streamrt.errors import CheckpointError, ConfigError
from streamrt.runtime import checkpoint_storage
from streamrt.runtime.checkpoint_encoding import decode, encode
from streamrt.runtime.checkpoint_storage import (
    METADATA_FILE,
    FileSystemCheckpointStorage,
    StoredCheckpoint,
    read_savepoint,
    write_savepoint,
)


def _metadata(checkpoint_id: int) -> dict[str, object]:
    return {
        "job": "wordcount",
        "checkpoint": checkpoint_id,
        "tasks": [{"uid": "count", "parallelism": 2, "key_groups": [[0, 64], [64, 128]]}],
    }


def _blobs(checkpoint_id: int) -> dict[str, bytes]:
    return {
        "count-0": encode({"counts": {"a": checkpoint_id}}),
        "count-1": encode({"counts": {"b": checkpoint_id}}),
        "source-0": encode({"offsets": {0: 10 * checkpoint_id}}),
    }


def _write(storage: FileSystemCheckpointStorage, checkpoint_id: int) -> str:
    return storage.write(
        checkpoint_id, 1_000 * checkpoint_id, _metadata(checkpoint_id), _blobs(checkpoint_id)
    )


def _names(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


def test_round_trip(tmp_path: Path) -> None:
    storage = FileSystemCheckpointStorage(tmp_path / "ckpt")
    location = _write(storage, 1)

    assert str(tmp_path / "ckpt" / "chk-1") == location
    expected = StoredCheckpoint(1, 1_000, _metadata(1), _blobs(1), location)
    assert expected == storage.read(location)
    assert expected == storage.read(os.path.join(location, METADATA_FILE))
    assert decode(expected.blobs["count-0"], expected.blob_source("count-0"))["counts"] == {"a": 1}
    assert str(tmp_path / "ckpt" / "chk-1" / "count-0") == expected.blob_source("count-0")


def test_layout_is_one_file_per_blob_and_a_readable_metadata_file(tmp_path: Path) -> None:
    location = Path(_write(FileSystemCheckpointStorage(tmp_path), 4))

    assert _names(location) == [METADATA_FILE, "count-0", "count-1", "source-0"]
    assert _blobs(4)["count-1"] == (location / "count-1").read_bytes()
    document = json.loads((location / METADATA_FILE).read_text())
    assert document["format_version"] == 1
    assert document["checkpoint_id"] == 4
    assert _metadata(4) == document["metadata"]
    assert {"size", "crc32"} == set(document["blobs"]["source-0"])


def test_latest_is_none_without_checkpoints(tmp_path: Path) -> None:
    assert FileSystemCheckpointStorage(tmp_path / "missing").latest() is None
    assert FileSystemCheckpointStorage(tmp_path).latest() is None


def test_latest_is_the_highest_id(tmp_path: Path) -> None:
    storage = FileSystemCheckpointStorage(tmp_path, retained=3)
    for checkpoint_id in (2, 9, 10):
        _write(storage, checkpoint_id)
    assert str(tmp_path / "chk-10") == storage.latest()  # numeric, not lexical, order


def test_retention_one_keeps_only_the_newest(tmp_path: Path) -> None:
    storage = FileSystemCheckpointStorage(tmp_path)
    for checkpoint_id in (1, 2, 3):
        _write(storage, checkpoint_id)
    assert _names(tmp_path) == ["chk-3"]


def test_retention_three_keeps_the_three_newest(tmp_path: Path) -> None:
    storage = FileSystemCheckpointStorage(tmp_path, retained=3)
    for checkpoint_id in range(1, 6):
        _write(storage, checkpoint_id)
    assert _names(tmp_path) == ["chk-3", "chk-4", "chk-5"]
    assert storage.read(str(tmp_path / "chk-3")).checkpoint_id == 3


@pytest.mark.parametrize("retained", [0, -1, True, 1.5])
def test_retained_must_be_at_least_one(tmp_path: Path, retained: int) -> None:
    with pytest.raises(ConfigError, match=r"retained checkpoints must be an int >= 1; got"):
        FileSystemCheckpointStorage(tmp_path, retained=retained)


def test_a_refused_blob_name_writes_nothing_and_keeps_the_previous(tmp_path: Path) -> None:
    storage = FileSystemCheckpointStorage(tmp_path)
    previous = _write(storage, 1)

    with pytest.raises(CheckpointError, match=r"blob name '\.\./escape' is not a safe file name"):
        storage.write(2, 2_000, _metadata(2), {**_blobs(2), "../escape": b"x"})

    assert _names(tmp_path) == ["chk-1"]
    assert previous == storage.latest()


@pytest.mark.parametrize("name", ["", "_metadata", ".hidden", "-x", "a/b", "a b", "x" * 201])
def test_unsafe_blob_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(CheckpointError, match="is not a safe file name"):
        FileSystemCheckpointStorage(tmp_path).write(1, 0, {}, {name: b""})
    assert _names(tmp_path) == []


def test_invalid_arguments_are_refused_before_any_file(tmp_path: Path) -> None:
    storage = FileSystemCheckpointStorage(tmp_path / "ckpt")
    with pytest.raises(CheckpointError, match=r"checkpoint id must be an int >= 1; got 0"):
        storage.write(0, 0, {}, {})
    with pytest.raises(CheckpointError, match=r"timestamp_ms must be an int >= 0; got -1"):
        storage.write(1, -1, {}, {})
    with pytest.raises(CheckpointError, match=r"metadata\['metadata'\]\['r'\] is a tuple"):
        storage.write(1, 0, {"r": (0, 1)}, {})
    with pytest.raises(CheckpointError, match=r"blob 'a' is a str; blobs must be bytes"):
        storage.write(1, 0, {}, {"a": "text"})  # type: ignore[dict-item]
    assert not (tmp_path / "ckpt").exists()


def test_a_failing_rename_leaves_the_previous_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = FileSystemCheckpointStorage(tmp_path)
    previous = _write(storage, 1)

    def no_space(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", no_space)
    with pytest.raises(CheckpointError) as caught:
        _write(storage, 2)

    assert (
        f"cannot write checkpoint 2 to {tmp_path / 'chk-2'}: [Errno 28] No space left on device"
        == str(caught.value)
    )
    assert isinstance(caught.value.__cause__, OSError)
    assert _names(tmp_path) == ["chk-1"]  # the failed one is removed, the old one kept
    assert previous == storage.latest()


def test_an_interrupt_mid_write_propagates_unchanged_and_cleans_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = FileSystemCheckpointStorage(tmp_path)
    previous = _write(storage, 1)

    def interrupted(src: object, dst: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _write(storage, 2)
    assert previous == storage.latest()
    assert _names(tmp_path) == ["chk-1"]


def _crash_after_blobs(storage: FileSystemCheckpointStorage, checkpoint_id: int) -> Path:
    """What a process killed between the blob files and the ``_metadata`` rename leaves."""
    directory = Path(storage.directory) / f"chk-{checkpoint_id}"
    directory.mkdir()
    for name, data in _blobs(checkpoint_id).items():
        (directory / name).write_bytes(data)
    (directory / f"{METADATA_FILE}.0badc0de.inprogress").write_bytes(b'{"format_version": 1, ')
    return directory


def test_a_crash_before_metadata_leaves_the_previous_as_latest(tmp_path: Path) -> None:
    storage = FileSystemCheckpointStorage(tmp_path)
    previous = _write(storage, 1)
    incomplete = _crash_after_blobs(storage, 2)

    assert previous == storage.latest()
    with pytest.raises(CheckpointError) as caught:
        storage.read(str(incomplete))
    assert (
        f"{incomplete} is not a complete checkpoint: {incomplete / METADATA_FILE} is missing "
        f"(the write did not finish)" == str(caught.value)
    )


def test_the_next_write_removes_older_incomplete_checkpoints(tmp_path: Path) -> None:
    storage = FileSystemCheckpointStorage(tmp_path, retained=3)
    _write(storage, 1)
    _crash_after_blobs(storage, 2)

    _write(storage, 3)

    assert _names(tmp_path) == ["chk-1", "chk-3"]


def test_the_crashed_id_can_be_written_again(tmp_path: Path) -> None:
    storage = FileSystemCheckpointStorage(tmp_path)
    _write(storage, 1)
    _crash_after_blobs(storage, 2)

    location = _write(storage, 2)  # restored from chk-1, the coordinator continues at 2

    assert _names(tmp_path) == ["chk-2"]
    assert _blobs(2) == storage.read(location).blobs


def test_ids_must_increase(tmp_path: Path) -> None:
    storage = FileSystemCheckpointStorage(tmp_path)
    _write(storage, 5)
    with pytest.raises(CheckpointError) as caught:
        _write(storage, 5)
    assert (
        f"checkpoint 5 is not newer than the latest complete checkpoint 5 in {tmp_path}; "
        f"checkpoint ids must increase (after a restore, continue from the restored id + 1)"
        == str(caught.value)
    )
    with pytest.raises(CheckpointError, match="checkpoint 3 is not newer"):
        _write(storage, 3)
    assert _names(tmp_path) == ["chk-5"]


def test_a_truncated_latest_metadata_is_loud(tmp_path: Path) -> None:
    storage = FileSystemCheckpointStorage(tmp_path, retained=2)
    _write(storage, 1)
    metadata = Path(_write(storage, 2)) / METADATA_FILE
    metadata.write_bytes(metadata.read_bytes()[:50])

    for load in (storage.latest, lambda: storage.read(str(metadata.parent))):
        with pytest.raises(CheckpointError) as caught:
            load()
        assert f"{metadata} is truncated: the json document ends after 50 bytes" == str(
            caught.value
        )


def test_metadata_of_an_unknown_version_is_refused(tmp_path: Path) -> None:
    storage = FileSystemCheckpointStorage(tmp_path)
    metadata = Path(_write(storage, 1)) / METADATA_FILE
    document = json.loads(metadata.read_text())
    metadata.write_text(json.dumps({**document, "format_version": 7}))

    with pytest.raises(CheckpointError) as caught:
        storage.latest()
    assert f"{metadata} has format version 7; this streamrt reads version 1" == str(caught.value)


def test_metadata_naming_a_file_outside_the_directory_is_refused(tmp_path: Path) -> None:
    storage = FileSystemCheckpointStorage(tmp_path)
    metadata = Path(_write(storage, 1)) / METADATA_FILE
    document = json.loads(metadata.read_text())
    document["blobs"]["../../etc/passwd"] = {"size": 1, "crc32": 0}
    metadata.write_text(json.dumps(document))

    with pytest.raises(CheckpointError, match=r"blob name '\.\./\.\./etc/passwd' is not a safe"):
        storage.read(str(metadata.parent))


def test_metadata_with_a_wrong_field_is_not_a_metadata_file(tmp_path: Path) -> None:
    storage = FileSystemCheckpointStorage(tmp_path)
    metadata = Path(_write(storage, 1)) / METADATA_FILE
    document = json.loads(metadata.read_text())
    metadata.write_text(json.dumps({**document, "checkpoint_id": "one"}))

    with pytest.raises(CheckpointError) as caught:
        storage.latest()
    assert (
        f"{metadata} is not a streamrt checkpoint metadata file: 'checkpoint_id' must be an int; "
        f"got 'one'" == str(caught.value)
    )


def test_a_corrupt_blob_names_the_file(tmp_path: Path) -> None:
    storage = FileSystemCheckpointStorage(tmp_path)
    location = _write(storage, 1)
    blob = Path(location) / "count-1"
    data = bytearray(blob.read_bytes())
    data[-3] ^= 0xFF
    blob.write_bytes(bytes(data))

    with pytest.raises(CheckpointError) as caught:
        storage.read(location)
    assert f"{blob} is corrupt: checksum mismatch" == str(caught.value)


def test_a_truncated_blob_names_the_file_and_sizes(tmp_path: Path) -> None:
    storage = FileSystemCheckpointStorage(tmp_path)
    location = _write(storage, 1)
    blob = Path(location) / "source-0"
    size = blob.stat().st_size
    blob.write_bytes(blob.read_bytes()[:7])

    with pytest.raises(CheckpointError) as caught:
        storage.read(location)
    assert f"{blob} is truncated: 7 of {size} bytes" == str(caught.value)


def test_a_missing_blob_names_the_file(tmp_path: Path) -> None:
    storage = FileSystemCheckpointStorage(tmp_path)
    location = _write(storage, 1)
    (Path(location) / "count-0").unlink()

    with pytest.raises(CheckpointError) as caught:
        storage.read(location)
    assert (
        f"{Path(location) / 'count-0'} is missing; {Path(location) / METADATA_FILE} lists it"
        == str(caught.value)
    )


def test_reading_a_missing_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError) as caught:
        FileSystemCheckpointStorage(tmp_path).read(str(tmp_path / "chk-9"))
    assert f"no checkpoint at {tmp_path / 'chk-9'}: the directory does not exist" == str(
        caught.value
    )


def test_discard_deletes_once_and_only_its_own_checkpoints(tmp_path: Path) -> None:
    storage = FileSystemCheckpointStorage(tmp_path / "ckpt", retained=2)
    first = _write(storage, 1)
    second = _write(storage, 2)
    savepoint = write_savepoint(tmp_path / "ckpt", 2, 2_000, _metadata(2), _blobs(2))

    storage.discard(second)
    storage.discard(second)  # gone already is fine

    assert first == storage.latest()
    with pytest.raises(CheckpointError, match=r"is not a checkpoint of this storage"):
        storage.discard(savepoint)
    with pytest.raises(CheckpointError, match=r"is not a checkpoint of this storage"):
        storage.discard(str(tmp_path / "chk-1"))
    assert Path(savepoint).is_dir()


def test_a_failed_deletion_of_an_old_checkpoint_is_logged_not_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    storage = FileSystemCheckpointStorage(tmp_path)
    _write(storage, 1)

    def busy(path: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(shutil, "rmtree", busy)
    with caplog.at_level(logging.WARNING, logger=checkpoint_storage.__name__):
        location = _write(storage, 2)

    assert location == storage.latest()
    assert "cannot delete an old checkpoint after 2" in caplog.text
    # the leftover lost its _metadata first, so it is incomplete, never half a checkpoint
    assert not (tmp_path / "chk-1" / METADATA_FILE).exists()


def test_savepoint_round_trip(tmp_path: Path) -> None:
    location = write_savepoint(tmp_path / "savepoints", 7, 7_000, _metadata(7), _blobs(7))

    assert re.fullmatch(r"savepoint-7-[0-9a-f]{12}", Path(location).name)
    assert str(tmp_path / "savepoints") == str(Path(location).parent)
    expected = StoredCheckpoint(7, 7_000, _metadata(7), _blobs(7), location)
    assert expected == read_savepoint(location)
    assert expected == read_savepoint(Path(location) / METADATA_FILE)


def test_savepoints_of_one_id_do_not_collide(tmp_path: Path) -> None:
    first = write_savepoint(tmp_path, 7, 0, {}, {})
    second = write_savepoint(tmp_path, 7, 0, {}, {})
    assert first != second


def test_retention_never_touches_savepoints(tmp_path: Path) -> None:
    storage = FileSystemCheckpointStorage(tmp_path)
    savepoint = write_savepoint(tmp_path, 1, 1_000, _metadata(1), _blobs(1))
    for checkpoint_id in (1, 2, 3):
        _write(storage, checkpoint_id)

    assert ["chk-3", Path(savepoint).name] == _names(tmp_path)
    assert _blobs(1) == read_savepoint(savepoint).blobs


def test_a_failing_savepoint_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_space(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", no_space)
    with pytest.raises(CheckpointError, match=r"cannot write checkpoint 3 to .*savepoint-3-"):
        write_savepoint(tmp_path, 3, 0, _metadata(3), _blobs(3))
    assert _names(tmp_path) == []
