"""``samplerr init`` through typer's CliRunner against the dev server."""

from __future__ import annotations

import socket
import uuid

import orjson
import pytest
from typer.testing import CliRunner

from samplerr.cli import build_app
from tests.devserver.process import DevServerProcess

runner = CliRunner()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def config_file(tmp_path, devserver: DevServerProcess):
    prefix = f".i{uuid.uuid4().hex[:8]}-"
    path = tmp_path / "archives.toml"
    path.write_text(
        f"""
[elasticsearch]
hosts = ["{devserver.url}"]
index_prefix = "{prefix}"
alias_prefix = "{prefix[1:]}"

[[archives]]
tf = "YYYY.MM.DD"
step = "20s"
ttl = "2d"
cfuncs = ["avg", "max"]
""",
        encoding="utf-8",
    )
    return path, prefix


def invoke(*args: str):
    return runner.invoke(build_app(), ["init", *args], env={"SAMPLERR_CONFIG": ""})


def test_init_installs_the_template_once(config_file, devserver):
    path, prefix = config_file
    first = invoke("--config", str(path))
    assert first.exit_code == 0, first.output
    assert f"index template 'samplerr-{prefix.strip('.-')}' for {prefix}*: created" in first.output
    assert "Elasticsearch 9." in first.output

    again = invoke("--config", str(path), "--json")
    assert again.exit_code == 0, again.output
    report = orjson.loads(again.stdout)
    assert report["template"] == {
        "name": f"samplerr-{prefix.strip('.-')}",
        "action": "unchanged",
        "index_patterns": [f"{prefix}*"],
    }
    assert report["elasticsearch"]["host"] == devserver.url
    status, body = devserver.request("GET", f"/_index_template/samplerr-{prefix.strip('.-')}")
    assert status == 200
    assert body["index_templates"][0]["index_template"]["index_patterns"] == [f"{prefix}*"]


def test_es_option_overrides_the_configured_hosts(config_file, devserver):
    path, _ = config_file
    text = path.read_text(encoding="utf-8").replace(devserver.url, f"http://127.0.0.1:{closed_port()}")
    path.write_text(text, encoding="utf-8")
    assert invoke("--config", str(path)).exit_code == 1
    result = invoke("--config", str(path), "--es", devserver.url, "--json")
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout)["template"]["action"] == "created"


def test_unreachable_elasticsearch_is_status_1_with_a_readable_message(config_file):
    path, _ = config_file
    url = f"http://elastic:hunter2-secret@127.0.0.1:{closed_port()}"
    result = invoke("--config", str(path), "--es", url)
    assert result.exit_code == 1
    assert "samplerr: error: Elasticsearch http://127.0.0.1:" in result.stderr
    assert "cannot connect" in result.stderr
    assert "Traceback" not in result.output
    assert "hunter2" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--es", ","], "--es: no Elasticsearch host"),
        (["--es", "http://"], "--es: host 'http://' has no host name"),
    ],
)
def test_bad_options_are_status_2(config_file, args, message):
    path, _ = config_file
    result = invoke("--config", str(path), *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_bad_configuration_is_status_2(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[elasticsearch]\nhosts = 3\n", encoding="utf-8")
    result = invoke("--config", str(path))
    assert result.exit_code == 2
    assert str(path) in result.stderr
    assert "Traceback" not in result.output


def hidden_setting(devserver: DevServerProcess, index: str) -> str | None:
    status, body = devserver.request("GET", f"/{index}/_settings/index.hidden")
    assert status == 200, body
    return body[index]["settings"].get("index", {}).get("hidden")


def test_init_hides_samplerr_indices_made_before_the_template_hid_them(config_file, devserver):
    path, prefix = config_file
    checkpoints = prefix.rstrip("-") + "_checkpoints"
    older = [f"{prefix}2026.11.21", f"{prefix}2026.11.22", f"{prefix}lock", checkpoints]
    unknown = f"{prefix}restored-by-hand"
    for index in [*older, unknown]:  # as an earlier samplerr (or someone) made them: visible
        assert devserver.request("PUT", f"/{index}")[0] == 200
    assert [hidden_setting(devserver, i) for i in older] == [None] * 4

    kept = invoke("--config", str(path), "--keep-visible", "--json")
    assert kept.exit_code == 0, kept.output
    assert orjson.loads(kept.stdout)["hidden"] == []
    assert [hidden_setting(devserver, i) for i in older] == [None] * 4

    first = invoke("--config", str(path))
    assert first.exit_code == 0, first.output
    assert "existing indices made hidden: 4 (" in first.output
    assert [hidden_setting(devserver, i) for i in older] == ["true"] * 4
    assert hidden_setting(devserver, unknown) is None  # not samplerr's to change

    again = invoke("--config", str(path), "--json")
    assert orjson.loads(again.stdout)["hidden"] == []
    # what samplerr creates from now on is hidden by the template, and still searched through aliases
    assert devserver.request("PUT", f"/{prefix}2026.11.23")[0] == 200
    assert hidden_setting(devserver, f"{prefix}2026.11.23") == "true"
