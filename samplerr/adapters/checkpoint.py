"""Checkpoint stores: the state of one partition's open windows, and the offset it reflects.

A :class:`Checkpoint` says: *every message of ``topic[partition]`` before ``offset`` is reflected
either in Elasticsearch (acknowledged) or in ``state``* (the consolidation state of the windows still
open or held for late data, with the series they belong to). The service writes one per partition,
then commits ``offset`` to Kafka; on assignment it restores the state and resumes at ``offset``.

Two stores, chosen by ``[service] checkpoint``:

- ``fs`` (default): one file per partition, ``<checkpoint_dir>/<group>/<topic>/<partition>.ckpt``,
  replaced atomically (written to a temporary file in the same directory, fsynced, renamed over the
  old one, and the directory fsynced). A file is a header line (JSON: identity, offset, generation,
  configuration fingerprint, payload length and SHA-256) followed by the payload; a file that does not
  check out is refused, never half-read. The directory must survive restarts (a volume in Docker,
  ``StateDirectory=`` under systemd) and is private to one host: with several hosts in one group, use
  the ``elasticsearch`` store so that a partition's state can follow the partition.
- ``elasticsearch``: one document per partition in the index ``<index_prefix without its trailing
  separator>_checkpoints`` (``.samplerr_checkpoints`` by default: outside the archive indices and their
  template; hidden, as they are), payload compressed (zlib) and base64-encoded in a field that is
  stored, not indexed.
  Elasticsearch acknowledges a write once it is in the translog, so a checkpoint is durable when
  :meth:`save` returns. Each write is
  versioned externally by its offset, so a member that lost its partition without knowing (a zombie)
  cannot overwrite a newer checkpoint with an older one.

Errors are :class:`CheckpointError` (a :class:`~samplerr.core.errors.SamplerrError`), and
:class:`CheckpointConflictError` when a newer checkpoint is in the way.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import tempfile
import urllib.parse
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson

from samplerr.adapters.es_connection import EsConnection, EsRequestError
from samplerr.core.errors import SamplerrError

MAGIC = b"samplerr-checkpoint 1\n"
_SAFE_NAME = re.compile(r"[A-Za-z0-9._-]+")


class CheckpointError(SamplerrError):
    """A checkpoint could not be written, or one found is unreadable."""


class CheckpointConflictError(CheckpointError):
    """The store holds a newer checkpoint of the partition: another member owns it now."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The consolidation state of one partition and the offset it reflects (see the module docstring)."""

    group: str
    topic: str
    partition: int
    offset: int  # the next message to read
    generation: int  # 1, 2, 3 … per partition, for logs and commit metadata
    fingerprint: str  # of the configuration the state was built with
    state: bytes
    written_at: float = 0.0  # UTC epoch seconds, informative

    @property
    def label(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}#{self.generation}"


class CheckpointStore(Protocol):
    """Where checkpoints live; implementations must be safe to call from one thread at a time."""

    description: str

    def load(self, group: str, topic: str, partition: int) -> Checkpoint | None:
        """The partition's checkpoint, or ``None`` when there is none."""
        ...

    def save(self, checkpoint: Checkpoint) -> None:
        """Store ``checkpoint`` durably (replacing the partition's previous one) before returning."""
        ...


def _header(checkpoint: Checkpoint) -> dict[str, Any]:
    return {
        "group": checkpoint.group,
        "topic": checkpoint.topic,
        "partition": checkpoint.partition,
        "offset": checkpoint.offset,
        "generation": checkpoint.generation,
        "fingerprint": checkpoint.fingerprint,
        "written_at": checkpoint.written_at,
        "size": len(checkpoint.state),
        "sha256": hashlib.sha256(checkpoint.state).hexdigest(),
    }


def _from_header(header: dict[str, Any], state: bytes, where: str) -> Checkpoint:
    try:
        if int(header["size"]) != len(state) or hashlib.sha256(state).hexdigest() != header["sha256"]:
            raise CheckpointError(f"{where}: checkpoint is damaged (size or checksum differs)")
        return Checkpoint(
            group=str(header["group"]),
            topic=str(header["topic"]),
            partition=int(header["partition"]),
            offset=int(header["offset"]),
            generation=int(header["generation"]),
            fingerprint=str(header["fingerprint"]),
            state=state,
            written_at=float(header.get("written_at", 0.0)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{where}: checkpoint header is unreadable: {exc}") from exc


def _safe(name: str) -> str:
    """A file-name-safe spelling of a group or topic name (percent-encoding anything unusual)."""
    if _SAFE_NAME.fullmatch(name) and name not in {".", ".."}:
        return name
    return urllib.parse.quote(name, safe="").replace(".", "%2E")


class FsCheckpointStore:
    """Checkpoints as files under ``directory`` (see the module docstring)."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.description = f"directory {self.directory}"

    def check(self) -> None:
        """Make sure checkpoints can be written here (at start, rather than at the first checkpoint)."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.directory, prefix=".probe-"):
                pass
        except OSError as exc:
            raise CheckpointError(
                f"checkpoint_dir {self.directory}: cannot write: {exc.strerror or exc}"
            ) from exc

    def path(self, group: str, topic: str, partition: int) -> Path:
        return self.directory / _safe(group) / _safe(topic) / f"{partition}.ckpt"

    def load(self, group: str, topic: str, partition: int) -> Checkpoint | None:
        path = self.path(group, topic, partition)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CheckpointError(f"{path}: cannot read checkpoint: {exc.strerror or exc}") from exc
        if not data.startswith(MAGIC):
            raise CheckpointError(f"{path}: not a samplerr checkpoint")
        end = data.find(b"\n", len(MAGIC))
        if end < 0:
            raise CheckpointError(f"{path}: checkpoint is truncated")
        try:
            header = orjson.loads(data[len(MAGIC) : end])
        except orjson.JSONDecodeError as exc:
            raise CheckpointError(f"{path}: checkpoint header is unreadable: {exc}") from exc
        if not isinstance(header, dict):
            raise CheckpointError(f"{path}: checkpoint header is unreadable")
        checkpoint = _from_header(header, data[end + 1 :], str(path))
        if (checkpoint.group, checkpoint.topic, checkpoint.partition) != (group, topic, partition):
            raise CheckpointError(
                f"{path}: holds the checkpoint of {checkpoint.topic}[{checkpoint.partition}] of group "
                f"{checkpoint.group!r}, not of {topic}[{partition}] of {group!r}"
            )
        return checkpoint

    def save(self, checkpoint: Checkpoint) -> None:
        path = self.path(checkpoint.group, checkpoint.topic, checkpoint.partition)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(MAGIC)
                    out.write(orjson.dumps(_header(checkpoint)))
                    out.write(b"\n")
                    out.write(checkpoint.state)
                    out.flush()
                    os.fsync(out.fileno())
                Path(tmp_name).replace(path)
            except BaseException:
                Path(tmp_name).unlink(missing_ok=True)
                raise
            _fsync_directory(path.parent)
        except OSError as exc:
            raise CheckpointError(f"{path}: cannot write checkpoint: {exc.strerror or exc}") from exc


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def checkpoint_index(index_prefix: str) -> str:
    """The checkpoint index of an ``index_prefix``: ``.samplerr-`` gives ``.samplerr_checkpoints``."""
    base = index_prefix.rstrip("-_.") or "samplerr"
    return f"{base}_checkpoints"


CHECKPOINT_MAPPINGS: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "group": {"type": "keyword"},
        "topic": {"type": "keyword"},
        "partition": {"type": "integer"},
        "offset": {"type": "long"},
        "generation": {"type": "long"},
        "written_at": {"type": "date", "format": "epoch_second"},
        "state": {"type": "binary"},
    },
}


class EsCheckpointStore:
    """Checkpoints as documents of one Elasticsearch index (see the module docstring)."""

    def __init__(self, connection: EsConnection, index: str) -> None:
        self._conn = connection
        self.index = index
        self.description = f"Elasticsearch index {index}"
        self._ready = False

    @staticmethod
    def doc_id(group: str, topic: str, partition: int) -> str:
        return f"{group}/{topic}/{partition}"

    def _doc_path(self, group: str, topic: str, partition: int) -> str:
        doc_id = urllib.parse.quote(self.doc_id(group, topic, partition), safe="")
        return f"/{self.index}/_doc/{doc_id}"

    def _ensure_index(self) -> None:
        if self._ready:
            return
        # hidden: internal state, out of `*` searches and Kibana's suggestions, like the archive indices
        body = {
            "settings": {"index": {"number_of_shards": 1, "hidden": True}},
            "mappings": CHECKPOINT_MAPPINGS,
        }
        try:
            answer = self._conn.request("PUT", f"/{self.index}", body=body, allow=(400,))
        except EsRequestError as exc:
            raise CheckpointError(f"checkpoint index {self.index}: {exc}") from exc
        if answer.status == 400:
            error = answer.body.get("error", {}) if isinstance(answer.body, dict) else {}
            if not isinstance(error, dict) or error.get("type") != "resource_already_exists_exception":
                raise CheckpointError(f"checkpoint index {self.index} cannot be created: {answer.body}")
        self._ready = True

    def load(self, group: str, topic: str, partition: int) -> Checkpoint | None:
        where = f"{self.index}/{self.doc_id(group, topic, partition)}"
        try:
            answer = self._conn.request("GET", self._doc_path(group, topic, partition), allow=(404,))
        except EsRequestError as exc:
            raise CheckpointError(f"checkpoint {where}: {exc}") from exc
        if answer.status == 404 or not isinstance(answer.body, dict) or not answer.body.get("found"):
            return None
        source = answer.body.get("_source")
        if not isinstance(source, dict):
            raise CheckpointError(f"checkpoint {where}: document has no _source")
        try:
            state = zlib.decompress(base64.b64decode(str(source["state"]), validate=True))
        except (KeyError, ValueError, zlib.error) as exc:
            raise CheckpointError(f"checkpoint {where}: state is unreadable: {exc}") from exc
        return _from_header(source, state, where)

    def save(self, checkpoint: Checkpoint) -> None:
        self._ensure_index()
        document = _header(checkpoint)
        document["state"] = base64.b64encode(zlib.compress(checkpoint.state, 1)).decode("ascii")
        path = self._doc_path(checkpoint.group, checkpoint.topic, checkpoint.partition)
        params: dict[str, str | int | bool] = {"version": checkpoint.offset, "version_type": "external_gte"}
        try:
            answer = self._conn.request("PUT", path, params=params, body=document, allow=(409,))
        except EsRequestError as exc:
            raise CheckpointError(f"checkpoint {checkpoint.label} not written: {exc}") from exc
        if answer.status == 409:
            raise CheckpointConflictError(
                f"checkpoint {checkpoint.label} not written: the store holds a newer checkpoint of this "
                "partition (another member of the group owns it now)"
            )
