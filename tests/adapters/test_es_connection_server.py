"""One install against both majors: the dev server playing Elasticsearch 8.19 and 9.1, over HTTP."""

from __future__ import annotations

import base64
import dataclasses
import logging
import socket
from collections.abc import Iterator

import elasticsearch
import pytest

from samplerr.adapters.es_bulk import BulkWriter
from samplerr.adapters.es_catalogue import classify_indices, create_index, list_indices
from samplerr.adapters.es_connection import EsConnection, EsRequestError
from samplerr.adapters.es_template import install_template, template_name
from samplerr.configfile import load_config
from samplerr.core.config import Config, SeriesSettings
from tests.adapters.es_support import count, ndjson, settings_for
from tests.devserver.process import DevServerProcess

PASSWORD = "s3cret-Pa55word"


@dataclasses.dataclass(frozen=True)
class Server:
    url: str
    major: int


@pytest.fixture(scope="module")
def devserver_8() -> Iterator[DevServerProcess]:
    server = DevServerProcess("--es-version", "8.19.0").start()
    yield server
    server.close()


@pytest.fixture(params=[8, 9], ids=["es8", "es9"])
def server(request: pytest.FixtureRequest) -> Server:
    """The dev server playing Elasticsearch 8.19 (its own) or 9.x (the session's)."""
    process = request.getfixturevalue("devserver_8" if request.param == 8 else "devserver")
    return Server(process.url, request.param)


@pytest.fixture
def config(server: Server) -> Config:
    base = load_config(None, env={})
    return dataclasses.replace(base, elasticsearch=settings_for(server.url))


@pytest.fixture
def connection(config: Config) -> Iterator[EsConnection]:
    with EsConnection(config.elasticsearch) as conn:
        yield conn


def test_the_probe_finds_the_major_and_requests_use_it(server: Server, connection: EsConnection):
    info = connection.server_info()
    assert info.major == server.major
    assert info.version.startswith(f"{server.major}.")
    assert info.host == server.url
    # A request that the server checks the media type of: it would be refused with a wrong major.
    assert connection.request("GET", "/_cluster/health").status == 200


def test_the_official_client_alone_is_refused_by_an_8x_server(server: Server, connection: EsConnection):
    """What samplerr works around: the 9.x client's compatible-with=9 against an 8.x server."""
    if server.major == 8:
        with pytest.raises(elasticsearch.BadRequestError) as caught:
            connection.client.info()
        assert caught.value.error == "media_type_header_exception"
    else:
        assert connection.client.info()["version"]["number"] == connection.server_info().version
    assert connection.server_info().major == server.major


def test_template_install_is_idempotent_and_follows_the_configuration(
    config: Config, connection: EsConnection
):
    first = install_template(connection, config)
    again = install_template(connection, config)
    assert (first.action, again.action) == ("created", "unchanged")
    assert first.name == template_name(config.elasticsearch.index_prefix)
    assert first.index_patterns == (config.elasticsearch.index_prefix + "*",)

    changed = dataclasses.replace(config, series=SeriesSettings(key=("host", "service", "region")))
    assert install_template(connection, changed).action == "updated"
    assert install_template(connection, changed).action == "unchanged"

    index = config.elasticsearch.index_prefix + "2026.11.22"
    assert create_index(connection, index)
    body = connection.request("GET", f"/{index}/_mapping").body
    properties = body[index]["mappings"]["properties"]
    assert properties["@timestamp"]["type"] == "date"
    assert properties["region"]["type"] == "keyword"
    assert properties["metric"]["type"] == "double"
    assert properties["cfunc"]["type"] == "keyword"
    assert properties["step"]["type"] == "integer"
    settings = connection.request("GET", f"/{index}/_settings").body[index]["settings"]["index"]
    assert settings["refresh_interval"] == "30s"
    assert settings["hidden"] == "true"  # storage behind the aliases, like a data stream's backing indices


def test_bulk_and_catalogue_work_on_both_majors(config: Config, connection: EsConnection):
    install_template(connection, config)
    prefix = config.elasticsearch.index_prefix
    index = prefix + "2026.11.22"
    report = BulkWriter(connection, max_docs=400).write(ndjson(index, 1000))
    assert report.docs_ok == 1000
    assert report.requests == 3
    assert count(connection, index) == 1000
    create_index(connection, prefix + "2026.11")
    create_index(connection, prefix + "junk")
    found = classify_indices(list_indices(connection, prefix), config.archives, prefix)
    assert [(a.info.name, a.archive) for a in found.archived] == [(index, 0), (prefix + "2026.11", 1)]
    assert found.archived[0].info.docs == 1000
    assert [i.name for i in found.unknown] == [prefix + "junk"]


def test_errors_name_host_status_type_and_reason_but_no_secret(
    config: Config, connection: EsConnection, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    missing = config.elasticsearch.index_prefix + "missing"
    with pytest.raises(EsRequestError) as caught:
        connection.request("GET", f"/{missing}/_doc/1")
    error = caught.value
    assert (error.status, error.error_type, error.retryable) == (404, "index_not_found_exception", False)
    assert error.host == config.elasticsearch.hosts[0]
    assert str(error).startswith(f"Elasticsearch {error.host}: GET /{missing}/_doc/1: HTTP 404 ")
    assert "index_not_found_exception: no such index" in str(error)

    with_password = dataclasses.replace(config.elasticsearch, username="elastic", password=PASSWORD)
    with EsConnection(with_password) as conn, pytest.raises(EsRequestError) as caught:
        conn.request("PUT", f"/{config.elasticsearch.index_prefix}UPPER")
    assert caught.value.status == 400
    assert caught.value.error_type == "invalid_index_name_exception"
    token = base64.b64encode(f"elastic:{PASSWORD}".encode()).decode()
    assert caplog.records  # the transport logged the request (headers included) at debug level
    for secret in (PASSWORD, token):
        assert secret not in str(caught.value)
        assert secret not in repr(conn)
        assert secret not in caplog.text


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_a_dead_node_among_several_is_skipped(devserver: DevServerProcess):
    settings = settings_for(devserver.url, hosts=(closed_port_url(), devserver.url, closed_port_url()))
    with EsConnection(settings) as conn:
        assert conn.server_info().host == devserver.url
        for _ in range(10):  # whichever node the pool offers first
            assert conn.request("GET", "/_cluster/health").status == 200


def test_no_live_node_is_a_retryable_error_naming_every_host():
    hosts = (closed_port_url(), closed_port_url())
    with EsConnection(settings_for(hosts[0], hosts=hosts)) as conn, pytest.raises(EsRequestError) as caught:
        conn.server_info()
    assert caught.value.retryable
    assert f"Elasticsearch {hosts[0]}, {hosts[1]}: GET /: cannot connect: " in str(caught.value)


def test_a_slow_answer_is_a_retryable_timeout(devserver_faults: DevServerProcess):
    with EsConnection(settings_for(devserver_faults.url, request_timeout=0.3)) as conn:
        conn.server_info()
        devserver_faults.set_faults(latency_ms=1500, paths=["/_cluster/health"])
        with pytest.raises(EsRequestError, match=r"GET /_cluster/health: no answer within 0.3 s") as caught:
            conn.request("GET", "/_cluster/health")
    assert caught.value.retryable
    assert caught.value.status is None


def test_a_missing_ca_file_is_reported_before_connecting(tmp_path):
    with pytest.raises(EsRequestError, match=r"ca_certs .*no such file"):
        EsConnection(settings_for("https://127.0.0.1:9200", ca_certs=str(tmp_path / "ca.pem")))
