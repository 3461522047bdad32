"""The deployment files, checked offline (no Docker engine here): the Dockerfile with Docker's own
parser, the compose file and its references, Telegraf's output, samplerr's configuration and
environment as samplerr itself validates them, Grafana's provisioning and dashboard against the
documented schema, the Kibana data view, and the systemd unit with ``systemd-analyze verify``.
"""

from __future__ import annotations

import fnmatch
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dockerfile
import pytest
import yaml

from samplerr.configfile import parse_text
from samplerr.core.config import Config
from samplerr.core.durations import parse_duration

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"


# --- the Dockerfile ----------------------------------------------------------------------------


def dockerfile_commands() -> list[dockerfile.Command]:
    return list(dockerfile.parse_file(str(ROOT / "Dockerfile")))


def final_stage() -> list[dockerfile.Command]:
    commands = dockerfile_commands()
    last_from = max(i for i, c in enumerate(commands) if c.cmd == "FROM")
    return commands[last_from:]


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for command in final_stage():
        if command.cmd == "ENV":
            values = list(command.value)
            env.update(zip(values[::2], values[1::2], strict=True))
    return env


def dockerignore_excludes(path: str) -> bool:
    """Docker's rule: the last pattern matching the path (or one of its parents) decides."""
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        glob = pattern[1:] if negate else pattern
        glob = glob.rstrip("/")
        regex = fnmatch.translate(glob).replace(".*", "[^/]*")
        if glob.startswith("**/"):
            regex = "(.*/)?" + fnmatch.translate(glob[3:]).replace(".*", "[^/]*")
        if any(re.match(regex, candidate) for candidate in candidates):
            excluded = not negate
    return excluded


def test_dockerfile_slim_base_non_root_entrypoint_and_command():
    stage = final_stage()
    base = stage[0].value[0]
    assert re.fullmatch(r"python:3\.1[1-9]-slim(-\w+)?", base), base
    users = [c.value[0] for c in stage if c.cmd == "USER"]
    assert users, "the image runs as root"
    assert users[-1].split(":")[0] not in {"root", "0"}
    entrypoint = next(c for c in stage if c.cmd == "ENTRYPOINT")
    assert entrypoint.json and entrypoint.value == ("samplerr",)
    command = next(c for c in stage if c.cmd == "CMD")
    assert command.json and command.value == ("run",)
    assert "samplerr" in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    exposed = [port for c in stage if c.cmd == "EXPOSE" for port in c.value]
    assert "9108" in exposed
    assert image_env()["SAMPLERR_SERVICE_LISTEN"] == "0.0.0.0:9108"
    volumes = [v for c in stage if c.cmd == "VOLUME" for v in c.value]
    assert "/var/lib/samplerr" in volumes


def test_dockerfile_copies_files_that_exist_and_reach_the_build_context():
    copies = [
        c
        for c in dockerfile_commands()
        if c.cmd == "COPY" and not any(f.startswith("--from") for f in c.flags)
    ]
    assert copies
    for copy in copies:
        *sources, _destination = copy.value
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: no such file"
            assert not dockerignore_excludes(source.rstrip("/")), f"COPY {source}: excluded by .dockerignore"
    for heavy in (".venv", ".git", "tests", "bench-data", "demo-out", "samplerr/__pycache__"):
        assert dockerignore_excludes(heavy), heavy
    # what the wheel is built from: the package and the files pyproject.toml reads
    assert not dockerignore_excludes("samplerr/default_archives.toml")
    assert not dockerignore_excludes("README.md")


def test_image_environment_is_valid_configuration():
    env = {k: v for k, v in image_env().items() if k.startswith("SAMPLERR_")}
    assert env
    config = parse_text((ROOT / "archives.toml").read_text(), "archives.toml", env)
    assert config.service.listen == "0.0.0.0:9108"


class HealthHandler(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()
        self.wfile.write(b'{"status": "ok"}')

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[tuple[http.server.HTTPServer, type[HealthHandler]]]:
    handler = type("Handler", (HealthHandler,), {})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, handler
    server.shutdown()
    server.server_close()


def run_healthcheck(listen: str) -> int:
    healthcheck = next(c for c in final_stage() if c.cmd == "HEALTHCHECK")
    assert healthcheck.json and healthcheck.value[0] == "CMD"
    program, *args = healthcheck.value[1:]
    assert program == "python"
    env = {"SAMPLERR_SERVICE_LISTEN": listen, "PATH": os.environ.get("PATH", "")}
    return subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, timeout=30, check=False
    ).returncode


def test_healthcheck_asks_healthz_on_the_listen_port(health_server):
    server, handler = health_server
    port = server.server_address[1]
    flags = next(c for c in final_stage() if c.cmd == "HEALTHCHECK").flags
    assert any(flag.startswith("--interval=") for flag in flags)
    assert run_healthcheck(f"0.0.0.0:{port}") == 0
    handler.status = 503
    assert run_healthcheck(f"0.0.0.0:{port}") != 0
    server.shutdown()
    assert run_healthcheck("0.0.0.0:1") != 0  # nothing listening


# --- the compose file --------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def service_env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def test_compose_services_and_their_references():
    spec = compose()
    services = spec["services"]
    assert {"elasticsearch", "kafka", "telegraf", "samplerr", "grafana"} <= set(services)
    named_volumes = set(spec.get("volumes") or {})
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        depends = service.get("depends_on", {})
        for target, rule in depends.items() if isinstance(depends, dict) else ((d, {}) for d in depends):
            assert target in services, f"{name} depends on unknown {target}"
            condition = rule.get("condition", "service_started")
            assert condition in {"service_started", "service_healthy", "service_completed_successfully"}
            if condition == "service_healthy":
                assert "healthcheck" in services[target], (
                    f"{name} waits for {target}'s health, which has none"
                )
        for volume in service.get("volumes", []):
            source = volume.split(":")[0] if isinstance(volume, str) else volume["source"]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name}: {source} does not exist"
            elif not source.startswith("/"):
                assert source in named_volumes, f"{name}: volume {source} is not declared"
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond this machine"
    build = services["samplerr"]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == ROOT / "Dockerfile"


def test_compose_elasticsearch_8_single_node_and_kafka_kraft():
    services = compose()["services"]
    elasticsearch = services["elasticsearch"]
    assert re.search(r"elasticsearch:8\.\d+\.\d+$", elasticsearch["image"])
    env = service_env(elasticsearch)
    assert env["discovery.type"] == "single-node"
    assert env["xpack.security.enabled"] == "false"
    assert "SECURITY IS OFF" in (DEPLOY / "docker-compose.yml").read_text()  # and the file says so
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    kenv = service_env(kafka)
    assert set(kenv["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert not any("zookeeper" in name for name in services)
    node, voter = kenv["KAFKA_NODE_ID"], kenv["KAFKA_CONTROLLER_QUORUM_VOTERS"]
    assert voter.startswith(f"{node}@kafka:")
    assert "PLAINTEXT://kafka:9092" in kenv["KAFKA_ADVERTISED_LISTENERS"]
    topic_command = services["kafka-init"]["command"]
    assert topic_command[topic_command.index("--topic") + 1] == "metrics"


def test_telegraf_sends_line_protocol_keyed_by_host_to_the_topic():
    conf = tomllib.loads((DEPLOY / "telegraf" / "telegraf.conf").read_text())
    (kafka,) = conf["outputs"]["kafka"]
    assert kafka["topic"] == "metrics"
    assert kafka["data_format"] == "influx"
    assert kafka["routing_tag"] == "host"
    assert kafka["brokers"] == ["kafka:9092"]
    assert conf["agent"]["omit_hostname"] is False
    assert {"cpu", "mem", "system"} <= set(conf["inputs"])
    services = compose()["services"]
    mounted = [v for v in services["telegraf"]["volumes"] if v.startswith("./telegraf/telegraf.conf:")]
    assert mounted and mounted[0].split(":")[1] == "/etc/telegraf/telegraf.conf"


def samplerr_config() -> Config:
    """deploy/samplerr/archives.toml with the environment samplerr gets in compose (image + service)."""
    service = compose()["services"]["samplerr"]
    env = {k: v for k, v in image_env().items() if k.startswith("SAMPLERR_")} | service_env(service)
    mount = next(v for v in service["volumes"] if v.endswith(":/etc/samplerr/archives.toml:ro"))
    path = DEPLOY / mount.split(":")[0]
    return parse_text(path.read_text(), str(path), env)


def test_samplerr_in_compose_reads_the_topic_and_writes_to_the_elasticsearch_service():
    config = samplerr_config()
    services = compose()["services"]
    assert config.elasticsearch.hosts == ("http://elasticsearch:9200",)
    assert config.kafka.bootstrap_servers == "kafka:9092"
    assert config.kafka.topics == ("metrics",)
    assert config.kafka.format == "influx"
    assert config.service.listen == "0.0.0.0:9108"
    assert config.service.checkpoint_dir == "/var/lib/samplerr"
    assert any(v.endswith(":/var/lib/samplerr") for v in services["samplerr"]["volumes"])
    grace = parse_duration(services["samplerr"]["stop_grace_period"], fixed=True).seconds
    assert grace > config.service.shutdown_timeout
    assert services["samplerr"]["command"][0] == "run"


# --- Grafana -----------------------------------------------------------------------------------


def datasource() -> dict[str, Any]:
    spec = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/samplerr.yaml").read_text())
    assert spec["apiVersion"] == 1
    (source,) = spec["datasources"]
    return source


def dashboard() -> dict[str, Any]:
    return json.loads((DEPLOY / "grafana/dashboards/samplerr-hosts.json").read_text())


def test_grafana_datasource_reads_the_daily_aliases():
    source = datasource()
    for key in ("name", "uid", "type", "access", "url", "jsonData"):
        assert key in source, key
    assert source["type"] == "elasticsearch"
    assert source["access"] == "proxy"
    assert source["url"] == samplerr_config().elasticsearch.hosts[0]
    data = source["jsonData"]
    config = samplerr_config()
    daily = next(a for a in config.archives if a.tf.pattern == "YYYY.MM.DD")
    assert data["index"] == f"[{config.elasticsearch.alias_prefix}]{daily.tf.pattern}"
    assert data["interval"] == "Daily"
    assert data["timeField"] == "@timestamp"
    assert re.fullmatch(r"8\.\d+\.\d+", data["esVersion"])  # a version string, as Grafana's schema has it
    image_major = re.search(r":(\d+)\.", compose()["services"]["elasticsearch"]["image"]).group(1)
    assert data["esVersion"].split(".")[0] == image_major
    assert parse_duration(data["timeInterval"], fixed=True).seconds == min(a.step for a in config.archives)
    assert "database" not in source  # deprecated in favour of jsonData.index


def test_grafana_dashboard_provider_points_at_the_mounted_dashboards():
    spec = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/samplerr.yaml").read_text())
    assert spec["apiVersion"] == 1
    (provider,) = spec["providers"]
    assert provider["type"] == "file"
    path = provider["options"]["path"]
    grafana = compose()["services"]["grafana"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in grafana["volumes"]}
    assert (DEPLOY / mounts[path] / "samplerr-hosts.json").is_file()
    assert mounts["/etc/grafana/provisioning"] == "./grafana/provisioning"
    home = service_env(grafana)["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{path}/samplerr-hosts.json"


def walk_datasources(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if "datasource" in node and isinstance(node["datasource"], dict):
            yield node["datasource"]
        for value in node.values():
            yield from walk_datasources(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk_datasources(value)


def test_grafana_dashboard_schema_and_datasource_references():
    board = dashboard()
    for key in ("uid", "title", "panels", "schemaVersion", "time", "templating"):
        assert key in board, key
    assert isinstance(board["schemaVersion"], int) and board["schemaVersion"] >= 36
    assert {"from", "to"} <= set(board["time"])
    uid = datasource()["uid"]
    references = list(walk_datasources(board))
    assert references
    assert all(ref == {"type": "elasticsearch", "uid": uid} for ref in references), references
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    variables = {variable["name"] for variable in board["templating"]["list"]}
    for variable in board["templating"]["list"]:
        assert variable["type"] == "query"
        assert json.loads(variable["query"])["find"] == "terms"
    for panel in board["panels"]:
        assert {"type", "title", "gridPos"} <= set(panel)
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"])
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        if panel.get("repeat"):
            assert panel["repeat"] in variables
        targets = panel.get("targets", [])
        refs = [target["refId"] for target in targets]
        assert len(refs) == len(set(refs))
        for target in targets:
            for used in re.findall(r"\$(\w+)", target["query"] + panel["title"]):
                assert used in variables, f"${used} is not a dashboard variable"
            assert target["timeField"] == datasource()["jsonData"]["timeField"]
            histograms = [b for b in target["bucketAggs"] if b["type"] == "date_histogram"]
            assert [h["field"] for h in histograms] == ["@timestamp"]
            assert target["bucketAggs"][-1]["type"] == "date_histogram"  # Grafana wants it last


def test_grafana_panels_consolidate_each_cfunc_with_its_own_function():
    """avg of the avg windows, min of the min ones, max of the max ones: anything else is wrong."""
    board = dashboard()
    seen = set()
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            cfunc = re.search(r"cfunc:(\w+)", target["query"]).group(1)
            (metric,) = target["metrics"]
            assert metric["field"] == "metric"
            assert metric["type"] == cfunc, target
            seen.add(cfunc)
    assert seen == {"avg", "min", "max"}


def test_kibana_data_view_is_on_the_aliases():
    body = json.loads((DEPLOY / "kibana/samplerr-data-view.json").read_text())
    view = body["data_view"]
    config = samplerr_config()
    assert view["title"] == f"{config.elasticsearch.alias_prefix}*"
    assert not view["title"].startswith(config.elasticsearch.index_prefix)
    assert view["timeFieldName"] == "@timestamp"
    note = (DEPLOY / "kibana/README.md").read_text()
    assert "samplerr-*" in note and ".samplerr-*" in note


# --- systemd -----------------------------------------------------------------------------------

UNIT = DEPLOY / "systemd" / "samplerr.service"


def unit_sections(text: str) -> dict[str, list[tuple[str, str]]]:
    """Sections and their (key, value) lines, in order (systemd allows repeated keys)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            sections.setdefault(current, [])
            continue
        assert current is not None, f"a key outside any section: {line}"
        key, sep, value = line.partition("=")
        assert sep, f"not key=value: {line}"
        sections[current].append((key.strip(), value.strip()))
    return sections


def test_systemd_unit_restart_policy_and_hardening():
    sections = unit_sections(UNIT.read_text())
    assert set(sections) == {"Unit", "Service", "Install"}
    service = dict(sections["Service"])
    assert service["Type"] == "simple"
    assert service["Restart"] == "on-failure"
    assert parse_duration(service["RestartSec"], fixed=True).seconds >= 1
    shutdown = parse_text((ROOT / "archives.toml").read_text(), "archives.toml", {}).service.shutdown_timeout
    assert parse_duration(service["TimeoutStopSec"], fixed=True).seconds > shutdown
    assert service["ExecStart"].split()[0].endswith("/samplerr")
    assert service["ExecStart"].split()[1] == "run"
    assert service.get("DynamicUser") == "yes" or service.get("User") not in (None, "root")
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "StateDirectory": "samplerr",
    }.items():
        assert service.get(key) == value, key
    # the checkpoint directory samplerr uses by default is the state directory systemd makes writable
    default = parse_text((ROOT / "archives.toml").read_text(), "archives.toml", {})
    assert default.service.checkpoint_dir == f"/var/lib/{service['StateDirectory']}"
    assert dict(sections["Install"])["WantedBy"] == "multi-user.target"
    assert "network-online.target" in dict(sections["Unit"])["After"]


def test_systemd_environment_file_is_valid_configuration():
    env = {}
    for line in (DEPLOY / "systemd" / "samplerr.env").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = value
    assert env and all(key.startswith("SAMPLERR_") for key in env)
    config = parse_text((ROOT / "archives.toml").read_text(), "archives.toml", env)
    assert config.kafka.format == "influx"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verify(tmp_path):
    # ExecStart names the install location (/opt/samplerr); verify checks that the program exists,
    # so point it at this environment's samplerr for the check.
    program = Path(sys.executable).parent / "samplerr"
    if not program.exists():
        pytest.skip(f"{program} is not installed")
    text = UNIT.read_text().replace("/opt/samplerr/bin/samplerr", str(program))
    unit = tmp_path / "samplerr.service"
    unit.write_text(text)
    done = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )
    complaints = [line for line in (done.stdout + done.stderr).splitlines() if "samplerr.service" in line]
    assert done.returncode == 0 and not complaints, done.stdout + done.stderr
