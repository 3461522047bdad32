"""`samplerr run --source file|stdin --dead-letter-file PATH`: rejected lines appended as JSON lines.

The file itself (:class:`DeadLetterFile`) in this process; the command as a separate process against
the development server: a file mixing valid events and garbage, and a FIFO (a live input) whose dead
letters go to a file or to /dev/full (every write fails, the service goes on).
"""

from __future__ import annotations

import errno
import itertools
import json
import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from samplerr.adapters.dead_letter_file import DeadLetterFile
from samplerr.cli import build_app
from samplerr.core.errors import SamplerrError
from samplerr.service_stream import CHUNK_BYTES
from tests.devserver.process import DevServerProcess
from tests.service.harness import ROOT, Service, config_text, documents, samplerr_command, total
from tests.service.streams import Stream, assert_same_documents, by_suffix, downsample_reference, make_stream
from tests.service.test_run_delivery import ARCHIVES, CONSOLIDATION
from tests.service.test_run_operations import GARBAGE


def records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


# -- the file -----------------------------------------------------------------------------------------


def test_each_rejected_line_is_one_json_line_with_its_reason_source_and_number(tmp_path: Path):
    path = tmp_path / "dead.jsonl"
    path.write_bytes(b'{"earlier": "run"}\n')
    dead = DeadLetterFile(str(path), "in.jsonl")
    try:
        lost = dead.add(b"good\n\xff bad\ngood\r\nsame\n", [("not_parseable", b"\xff bad")])
        lost += dead.add(b"good\nsame\nsame\nlast", [("no_time", b"same"), ("no_time", b"same")])
        lost += dead.add(b"x\nlast", [("not_finite", b"last"), ("no_value", b"not in the chunk")])
    finally:
        dead.close()
    assert lost == 0
    assert records(path) == [
        {"earlier": "run"},  # appended, never truncated
        {"reason": "not_parseable", "source": "in.jsonl", "line_number": 2, "line": "\\xff bad"},
        {"reason": "no_time", "source": "in.jsonl", "line_number": 6, "line": "same"},
        {"reason": "no_time", "source": "in.jsonl", "line_number": 7, "line": "same"},
        {"reason": "not_finite", "source": "in.jsonl", "line_number": 10, "line": "last"},
        {"reason": "no_value", "source": "in.jsonl", "line": "not in the chunk"},  # number unknown
    ]
    assert dead.written == {"not_parseable": 1, "no_time": 2, "not_finite": 1, "no_value": 1}
    assert not dead.failed


@settings(max_examples=150, deadline=None)
@given(
    lines=st.lists(st.sampled_from([b"ok", b"bad", b"bad ", b"", b"b", b"okbad", b"\xffbad"]), max_size=40),
    cuts=st.sets(st.integers(0, 40)),
)
def test_line_numbers_are_right_however_the_input_is_cut(
    tmp_path_factory: pytest.TempPathFactory, lines: list[bytes], cuts: set[int]
):
    """Lines containing 'bad' are rejected, copies included; chunks end at arbitrary line ends."""
    path = tmp_path_factory.getbasetemp() / f"{uuid.uuid4().hex}.jsonl"
    dead = DeadLetterFile(str(path), "-")
    bounds = sorted({0, len(lines), *(c for c in cuts if c < len(lines))})
    try:
        for start, end in itertools.pairwise(bounds):
            chunk = b"".join(line + b"\n" for line in lines[start:end])
            dead.add(chunk, [("not_parseable", line) for line in lines[start:end] if b"bad" in line])
    finally:
        dead.close()
    expected = [
        (n, line.decode("utf-8", "backslashreplace")) for n, line in enumerate(lines, 1) if b"bad" in line
    ]
    assert [(r["line_number"], r["line"]) for r in records(path)] == expected
    path.unlink()


def test_failed_writes_are_counted_and_raise_nothing():
    dead = DeadLetterFile("/dev/full", "in.jsonl")
    try:
        assert dead.add(b"a\nb\n", [("not_parseable", b"a"), ("no_time", b"b")]) == 2
    finally:
        dead.close()
    assert dead.failed == {"not_parseable": 1, "no_time": 1}
    assert not dead.written
    assert dead.last_error is not None


class _TornFile:
    """Takes the first ``room`` bytes, then fails as a full disk does."""

    def __init__(self, room: int) -> None:
        self.data = b""
        self.room = room

    def write(self, data: memoryview) -> int:
        if self.room == 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        taken = bytes(data[: self.room])
        self.data += taken
        self.room -= len(taken)
        return len(taken)

    def close(self) -> None:
        pass


def test_after_a_write_torn_inside_a_line_the_next_lines_stay_readable(tmp_path: Path):
    dead = DeadLetterFile(str(tmp_path / "unused"), "-")
    torn = _TornFile(room=100)  # the first record whole, the second cut
    dead._file.close()
    dead._file = torn
    assert dead.add(b"one\ntwo\n", [("no_time", b"one" * 10), ("no_time", b"two" * 10)]) == 1
    torn.room = 10_000
    assert dead.add(b"three\n", [("not_finite", b"three")]) == 0
    lines = torn.data.splitlines()
    assert json.loads(lines[0])["line"] == "one" * 10
    assert json.loads(lines[-1]) == {"reason": "not_finite", "source": "-", "line_number": 3, "line": "three"}
    assert dead.written == {"no_time": 1, "not_finite": 1}
    assert dead.failed == {"no_time": 1}


def test_a_file_that_cannot_be_opened_is_an_error(tmp_path: Path):
    with pytest.raises(SamplerrError, match="--dead-letter-file"):
        DeadLetterFile(str(tmp_path), "-")


# -- the command --------------------------------------------------------------------------------------


def test_kafka_refuses_the_option_and_names_the_topic_setting():
    result = CliRunner().invoke(build_app(), ["run", "--dead-letter-file", "dead.jsonl"])
    assert result.exit_code == 2
    assert "[kafka] dead_letter_topic" in result.output
    assert "Traceback" not in result.output


def test_help_documents_the_line_shape():
    result = CliRunner().invoke(build_app(), ["run", "--help"], env={"COLUMNS": "200"})
    assert "--dead-letter-file" in result.output
    assert "line_number" in result.output


def write_config(tmp: Path, es_url: str) -> tuple[Path, str]:
    prefix = f".d{uuid.uuid4().hex[:8]}-"
    path = tmp / "run.toml"
    path.write_text(
        config_text(
            es_url=es_url,
            index_prefix=prefix,
            bootstrap="127.0.0.1:9",  # unused: no Kafka here
            topics=["unused"],
            group="unused",
            checkpoint_dir=tmp / "checkpoints",
            archives=ARCHIVES,
            consolidation=CONSOLIDATION,
        )
    )
    return path, prefix


def mixed_input(seed: int) -> tuple[Stream, list[bytes], list[tuple[int, str, bytes]]]:
    """Valid events with GARBAGE between them: (stream, lines, [(line number, reason, bad line)])."""
    stream = make_stream(3_000, partitions=1, series=8, seed=seed, start_s=1_795_000_000)
    lines = [value for _, value in stream.messages]
    bad: list[tuple[int, str, bytes]] = []
    for i, (reason, line) in enumerate(GARBAGE * 2):
        at = 50 + i * 97
        lines.insert(at, line)
        bad.append((at + 1, reason, line))
    return stream, lines, bad


def expected_records(bad: list[tuple[int, str, bytes]], source: str) -> list[dict[str, object]]:
    return [
        {"reason": r, "source": source, "line_number": n, "line": line.decode("utf-8", "backslashreplace")}
        for n, r, line in bad
    ]


def test_a_file_run_appends_exactly_the_bad_lines_and_archives_the_rest(
    tmp_path: Path, devserver: DevServerProcess
):
    stream, lines, bad = mixed_input(seed=21)
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join(lines) + b"\n")
    dead = tmp_path / "dead.jsonl"
    config, prefix = write_config(tmp_path, devserver.url)
    args = ["--source", "file", "--input", str(events), "--dead-letter-file", str(dead)]
    result = subprocess.run(
        samplerr_command("run", "--config", str(config), "--no-lifecycle", "--log-format", "json", *args),
        capture_output=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert records(dead) == expected_records(bad, str(events))
    log = [json.loads(line)["message"] for line in result.stderr.decode().splitlines()]
    assert any(f"{len(bad)} lines appended" in m for m in log), log
    actual = by_suffix(documents(devserver.url, prefix + "*"), prefix)
    expected = by_suffix(downsample_reference(config, stream, tmp_path, keep_marker=True), prefix)
    assert_same_documents(actual, expected)


def open_fifo_for_writing(fifo: Path, service: Service, timeout: float = 60) -> int:
    """Open ``fifo`` once the service reads it (without hanging if the service died)."""
    assert service.process is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno != errno.ENXIO:
                raise
            assert service.process.poll() is None, service.log_lines()
            time.sleep(0.05)
            continue
        os.set_blocking(fd, True)
        return fd
    raise AssertionError("the service never opened its input")


@pytest.mark.parametrize("target", ["file", "/dev/full"])
def test_a_live_input_counts_dead_letters_and_write_failures_never_stop_it(
    tmp_path: Path, devserver: DevServerProcess, target: str
):
    _, lines, bad = mixed_input(seed=22)
    fifo = tmp_path / "events.fifo"
    os.mkfifo(fifo)
    dead = tmp_path / "dead.jsonl" if target == "file" else Path(target)
    config, _ = write_config(tmp_path, devserver.url)
    service = Service(
        config,
        tmp_path / "run.log",
        extra=("--source", "file", "--input", str(fifo), "--dead-letter-file", str(dead)),
    ).start()
    fd = open_fifo_for_writing(fifo, service)
    try:
        data = b"\n".join(lines) + b"\n"
        # The reader takes whole CHUNK_BYTES blocks from a pipe until its end: fill the last one
        # with empty lines (neither events nor rejected) so that everything is read while it is open.
        os.write(fd, data + b"\n" * (-len(data) % CHUNK_BYTES))
        metric = "samplerr_dead_letters_total" if target == "file" else "samplerr_dead_letter_failures_total"
        metrics = service.wait(lambda m: total(m, metric) == len(bad), 60, metric)
    finally:
        os.close(fd)  # end of input: the service finishes
    by_reason: dict[str, float] = {}
    for _, reason, _ in bad:
        by_reason[reason] = by_reason.get(reason, 0) + 1
    assert {k.split('"')[1]: v for k, v in metrics.items() if k.startswith(metric + "{")} == by_reason
    other = "samplerr_dead_letter_failures_total" if target == "file" else "samplerr_dead_letters_total"
    assert total(metrics, other) == 0
    assert metrics["samplerr_events_total"] == len(lines) - len(bad)
    assert service.exit_status(60) == 0
    messages = [e.get("message", "") for e in service.log_lines()]
    if target == "file":
        assert records(dead) == expected_records(bad, str(fifo))
    else:
        assert any("rejected lines not written" in m for m in messages), messages
