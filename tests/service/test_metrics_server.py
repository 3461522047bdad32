"""/metrics and /healthz over real HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from samplerr.core.errors import ConfigError
from samplerr.metrics import Health, MetricsServer, ServiceMetrics, parse_listen


def get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, answer.headers["Content-Type"], answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read()


@pytest.fixture
def served() -> Iterator[tuple[MetricsServer, ServiceMetrics, list[str]]]:
    metrics = ServiceMetrics()
    problems: list[str] = []
    server = MetricsServer("127.0.0.1:0", metrics, Health(lambda: list(problems), lambda: {"partitions": 2}))
    server.start()
    yield server, metrics, problems
    server.stop()


def test_metrics_are_served_in_the_prometheus_format(served):
    server, metrics, _ = served
    metrics.events.inc(5)
    metrics.rejected.labels("not_finite").inc(2)
    metrics.consumer_lag.labels("metrics", "3").set(17)
    status, content_type, body = get(server.url + "/metrics")
    text = body.decode()
    assert status == 200
    assert content_type.startswith("text/plain")
    assert "samplerr_events_total 5.0" in text
    assert 'samplerr_events_rejected_total{reason="not_finite"} 2.0' in text
    assert 'samplerr_consumer_lag_messages{partition="3",topic="metrics"} 17.0' in text


def test_health_says_ok_then_failing_with_the_problems(served):
    server, _, problems = served
    status, _, body = get(server.url + "/healthz")
    assert status == 200
    assert json.loads(body) == {"status": "ok", "problems": [], "partitions": 2}
    problems.append("Elasticsearch has not taken writes for 75 s")
    status, _, body = get(server.url + "/healthz")
    assert status == 503
    assert json.loads(body)["problems"] == ["Elasticsearch has not taken writes for 75 s"]


def test_unknown_paths_are_404(served):
    server, _, _ = served
    assert get(server.url + "/nothing")[0] == 404


@pytest.mark.parametrize(
    ("listen", "expected"),
    [("127.0.0.1:9108", ("127.0.0.1", 9108)), ("[::1]:9108", ("::1", 9108)), (":9108", ("0.0.0.0", 9108))],
)
def test_listen_addresses(listen, expected):
    assert parse_listen(listen) == expected


@pytest.mark.parametrize("listen", ["9108", "host:", "host:port", "host:99999"])
def test_bad_listen_addresses_name_the_setting(listen):
    with pytest.raises(ConfigError, match="listen"):
        parse_listen(listen)


def test_a_port_in_use_is_a_configuration_error(served):
    server, metrics, _ = served
    with pytest.raises(ConfigError, match="cannot listen"):
        MetricsServer(server.url.removeprefix("http://"), metrics, Health())
