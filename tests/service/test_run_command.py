"""`samplerr run`'s command line and log lines (the service itself is tested in separate processes)."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from samplerr.cli import build_app
from samplerr.service_logging import RateLimited, setup_logging


@pytest.fixture
def run_cli():
    runner = CliRunner()
    app = build_app()

    def invoke(*args: str):
        return runner.invoke(app, ["run", *args])

    yield invoke
    logging.getLogger().handlers.clear()


ARCHIVE = '[[archives]]\ntf = "YYYY.MM.DD"\nstep = "20s"\nttl = "2d"\n'


def config_file(tmp_path: Path, tables: str) -> str:
    """An archives.toml in ``tmp_path``: ``tables`` (``[service]``, ``[kafka]``…) and one daily archive."""
    path = tmp_path / "archives.toml"
    path.write_text(tables + ARCHIVE)
    return str(path)


def test_help_explains_sources_delivery_and_keying(run_cli):
    result = run_cli("--help")
    assert result.exit_code == 0
    for words in ("--source", "--no-lifecycle", "--log-format", "key messages by series", "SIGTERM"):
        assert words in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--source", "file"], "--source file needs --input PATH"),
        (["--input", "events.jsonl"], "--input goes with --source file"),
        (["--checkpoint-interval", "5 parsecs"], "--checkpoint-interval"),
        (["--source", "pigeon"], "pigeon"),
        (["--es", ""], "--es"),
    ],
)
def test_bad_options_exit_2_with_one_line(run_cli, args, message):
    result = run_cli(*args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_bad_listen_address_is_a_configuration_error(run_cli, tmp_path: Path):
    result = run_cli("--source", "stdin", "--listen", "nowhere", "--no-lifecycle")
    assert result.exit_code == 2
    assert "listen" in result.output


def test_a_bad_configuration_exits_2_naming_the_key(run_cli, tmp_path: Path):
    result = run_cli("--config", config_file(tmp_path, '[service]\nmax_series = "many"\n'))
    assert result.exit_code == 2
    assert "max_series" in result.output


def test_json_log_lines_are_one_object_each():
    out = io.StringIO()
    setup_logging("json", "info", stream=out)
    try:
        logging.getLogger("samplerr.service").warning("pausing consumption: %d MiB", 32)
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("samplerr.sink").exception("writer stopped")
        logging.getLogger("samplerr.service").debug("not shown at info")
    finally:
        logging.getLogger().handlers.clear()
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(e["level"], e["logger"], e["message"]) for e in lines] == [
        ("warning", "samplerr.service", "pausing consumption: 32 MiB"),
        ("error", "samplerr.sink", "writer stopped"),
    ]
    assert lines[0]["time"].endswith("Z")
    assert "ValueError: boom" in lines[1]["exception"]


def test_text_log_lines_are_readable():
    out = io.StringIO()
    setup_logging("text", "info", stream=out)
    try:
        logging.getLogger("samplerr.service").info("assigned %s", "metrics[0]")
    finally:
        logging.getLogger().handlers.clear()
    line = out.getvalue().strip()
    assert line.endswith("INFO samplerr.service: assigned metrics[0]")
    assert line[:24].endswith("Z")


def test_rate_limited_lines_say_how_many_were_held_back():
    now = [0.0]
    limit = RateLimited(10.0, clock=lambda: now[0])
    assert limit.ready()
    limit.logged()
    now[0] = 3.0
    assert not limit.ready()
    assert not limit.ready()
    now[0] = 10.5
    assert limit.ready()
    assert limit.suppressed == 2


def test_an_unwritable_checkpoint_directory_fails_at_start(run_cli, tmp_path: Path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    config = config_file(tmp_path, f'[service]\ncheckpoint_dir = "{blocker}"\n')
    result = run_cli("--config", config, "--listen", "127.0.0.1:0", "--no-lifecycle")
    assert result.exit_code == 1
    assert "checkpoint_dir" in result.output
    assert "Traceback" not in result.output


def test_a_configuration_librdkafka_refuses_exits_2(run_cli, tmp_path: Path):
    config = config_file(
        tmp_path, f'[service]\ncheckpoint_dir = "{tmp_path}"\n[kafka.config]\n"no.such.property" = 1\n'
    )
    result = run_cli("--config", config, "--listen", "127.0.0.1:0", "--no-lifecycle")
    assert result.exit_code == 2
    assert "no.such.property" in result.output
