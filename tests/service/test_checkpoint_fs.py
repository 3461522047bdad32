"""The file checkpoint store: round trips, atomic replacement, and refusal of damaged files."""

from __future__ import annotations

from pathlib import Path

import pytest

from samplerr.adapters.checkpoint import Checkpoint, CheckpointError, FsCheckpointStore, checkpoint_index


def checkpoint(offset: int = 42, state: bytes = b"\x00state\nbytes\xff", **changes: object) -> Checkpoint:
    fields: dict[str, object] = {
        "group": "samplerr",
        "topic": "metrics",
        "partition": 3,
        "offset": offset,
        "generation": 7,
        "fingerprint": "abc123",
        "state": state,
        "written_at": 1_795_000_000.5,
    }
    fields.update(changes)
    return Checkpoint(**fields)  # type: ignore[arg-type]


def test_a_saved_checkpoint_loads_back_equal(tmp_path: Path):
    store = FsCheckpointStore(tmp_path)
    saved = checkpoint()
    store.save(saved)
    assert store.load("samplerr", "metrics", 3) == saved
    assert store.load("samplerr", "metrics", 4) is None
    assert store.load("other", "metrics", 3) is None


def test_saving_again_replaces_the_file_and_leaves_no_temporary_file(tmp_path: Path):
    store = FsCheckpointStore(tmp_path)
    store.save(checkpoint(offset=1, state=b"old" * 1000))
    store.save(checkpoint(offset=2, state=b"new"))
    loaded = store.load("samplerr", "metrics", 3)
    assert loaded is not None
    assert (loaded.offset, loaded.state) == (2, b"new")
    assert [p.name for p in store.path("samplerr", "metrics", 3).parent.iterdir()] == ["3.ckpt"]


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[:-1],  # truncated payload
        lambda data: data[:-1] + bytes([data[-1] ^ 1]),  # one bit flipped
        lambda data: data[:10],  # truncated header
        lambda data: b"something else entirely\n",
    ],
)
def test_a_damaged_file_is_refused_not_half_read(tmp_path: Path, damage):
    store = FsCheckpointStore(tmp_path)
    store.save(checkpoint())
    path = store.path("samplerr", "metrics", 3)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(CheckpointError, match=str(path)):
        store.load("samplerr", "metrics", 3)


def test_a_file_of_another_partition_is_refused(tmp_path: Path):
    store = FsCheckpointStore(tmp_path)
    store.save(checkpoint(partition=1))
    store.path("samplerr", "metrics", 1).rename(store.path("samplerr", "metrics", 3))
    with pytest.raises(CheckpointError, match=r"metrics\[1\]"):
        store.load("samplerr", "metrics", 3)


def test_unusual_group_and_topic_names_stay_inside_the_directory(tmp_path: Path):
    store = FsCheckpointStore(tmp_path / "ckpt")
    saved = checkpoint(group="../../etc/passwd", topic="..")
    store.save(saved)
    assert store.load("../../etc/passwd", "..", 3) == saved
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) == 1
    assert (tmp_path / "ckpt") in files[0].parents


def test_an_unwritable_directory_is_a_checkpoint_error(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(CheckpointError, match="cannot write checkpoint"):
        FsCheckpointStore(blocker).save(checkpoint())


def test_the_checkpoint_index_is_outside_the_archive_prefix():
    assert checkpoint_index(".samplerr-") == ".samplerr_checkpoints"
    assert checkpoint_index("metrics-") == "metrics_checkpoints"
    assert not checkpoint_index(".samplerr-").startswith(".samplerr-")
