"""HTTP protocol: product header, content negotiation, compatibility headers, routing errors, CLI."""

import socket
import subprocess
import sys

import orjson
import pytest
import urllib3
from elasticsearch import ApiError, BadRequestError, Elasticsearch, NotFoundError
from typer.testing import CliRunner

from samplerr.cli import build_app

V9 = "application/vnd.elasticsearch+json; compatible-with=9"
V8 = "application/vnd.elasticsearch+json; compatible-with=8"
V7 = "application/vnd.elasticsearch+json; compatible-with=7"


@pytest.fixture(scope="module")
def http() -> urllib3.PoolManager:
    return urllib3.PoolManager(retries=False)


def call(http, url, method, path, body=None, headers=None):
    data = body if isinstance(body, bytes) or body is None else orjson.dumps(body)
    hdrs = {"Content-Type": "application/json"} if data else {}
    hdrs.update(headers or {})
    return http.request(method, url + path, body=data, headers=hdrs)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/", 200),
        ("HEAD", "/", 200),
        ("HEAD", "/no-such-index", 404),
        ("GET", "/no-such-index/_search", 404),
        ("GET", "/_cat/indices", 200),
        ("GET", "/_bulk", 405),
        ("GET", "/_nope/at/all/deeper", 400),
        ("POST", "/_search?nope=1", 400),
        ("GET", "/_cluster/health", 200),
        ("GET", "/_nodes", 200),
    ],
)
def test_every_answer_carries_the_product_header(http, devserver, method, path, status):
    resp = call(http, devserver.url, method, path)
    assert resp.status == status
    assert resp.headers["X-Elastic-Product"] == "Elasticsearch"
    if method != "HEAD" and "_cat" not in path:
        assert resp.headers["Content-Type"].startswith("application/json")
        orjson.loads(resp.data)


def test_cat_without_format_answers_text(http, devserver):
    resp = call(http, devserver.url, "GET", "/_cat/health?v")
    assert resp.headers["Content-Type"].startswith("text/plain")
    assert resp.data.decode().split()[0] == "epoch"


def test_unknown_endpoint_and_wrong_method_answer_like_elasticsearch(http, devserver):
    resp = call(http, devserver.url, "GET", "/_nope/at/all/deeper")
    assert orjson.loads(resp.data) == {
        "error": "no handler found for uri [/_nope/at/all/deeper] and method [GET]",
        "status": 400,
    }
    resp = call(http, devserver.url, "DELETE", "/_bulk")
    assert resp.status == 405
    assert orjson.loads(resp.data)["error"].startswith(
        "Incorrect HTTP method for uri [/_bulk] and method [DELETE]"
    )
    assert set(resp.headers["Allow"].split(",")) == {"PUT", "POST"}


def test_unrecognized_parameter_is_refused(es: Elasticsearch):
    with pytest.raises(BadRequestError) as err:
        es.perform_request("GET", "/_search", params={"sizee": "1"}, headers={"accept": V9})
    assert err.value.body["error"]["reason"] == "request [/_search] contains unrecognized parameter: [sizee]"


def test_body_without_a_json_content_type_is_not_acceptable(http, devserver):
    resp = http.request(
        "POST", devserver.url + "/_search", body=b"{}", headers={"Content-Type": "text/plain"}
    )
    assert resp.status == 406
    assert orjson.loads(resp.data) == {
        "error": "Content-Type header [text/plain] is not supported",
        "status": 406,
    }


def test_keep_alive_reuses_one_connection(devserver):
    pool = urllib3.HTTPConnectionPool("127.0.0.1", devserver.port, maxsize=1, block=True)
    for _ in range(5):
        assert pool.request("GET", "/").status == 200
    assert pool.num_connections == 1


def test_a_9_server_accepts_compatible_with_8_and_9_and_refuses_7(http, devserver):
    for accept in (V9, V8):
        resp = call(http, devserver.url, "GET", "/", headers={"Accept": accept})
        assert resp.status == 200, accept
    resp = call(http, devserver.url, "GET", "/", headers={"Accept": V7})
    assert resp.status == 400
    body = orjson.loads(resp.data)
    assert body["error"]["type"] == "media_type_header_exception"
    assert body["error"]["caused_by"]["reason"].startswith(
        "Accept version must be either version 9 or 8, but found 7."
    )


def test_an_8_server_refuses_the_9_client_exactly_like_elasticsearch(start_devserver):
    server = start_devserver("--es-version", "8.19.0")
    client = Elasticsearch(server.url)
    with pytest.raises(BadRequestError) as err:
        client.info()
    assert err.value.body == {
        "error": {
            "root_cause": [
                {
                    "type": "media_type_header_exception",
                    "reason": "Invalid media-type value on headers [Accept, Content-Type]",
                }
            ],
            "type": "media_type_header_exception",
            "reason": "Invalid media-type value on headers [Accept, Content-Type]",
            "caused_by": {
                "type": "status_exception",
                "reason": f"Accept version must be either version 8 or 7, but found 9. Accept={V9}",
            },
        },
        "status": 400,
    }
    assert err.value.meta.headers["X-Elastic-Product"] == "Elasticsearch"
    # a client speaking the 8 media type is served, and sees an 8.x server
    info = client.perform_request("GET", "/", headers={"accept": V8})
    assert info["version"]["number"] == "8.19.0"
    created = client.perform_request(
        "PUT",
        "/eight",
        headers={"accept": V8, "content-type": V8},
        body={"settings": {"number_of_replicas": 0}},
    )
    assert created["acknowledged"] is True
    # mixing versions between the two headers is refused too
    with pytest.raises(BadRequestError):
        client.perform_request("PUT", "/eight2", headers={"accept": V8, "content-type": V9}, body={})
    client.close()


def test_bulk_ndjson_with_compat_8_header_on_an_8_server(start_devserver, http):
    server = start_devserver("--es-version", "8.19.0")
    body = b'{"index":{"_index":"b8","_id":"1"}}\n{"a":1}\n'
    resp = http.request(
        "POST",
        server.url + "/_bulk",
        body=body,
        headers={
            "Content-Type": "application/vnd.elasticsearch+x-ndjson; compatible-with=8",
            "Accept": V8,
        },
    )
    assert resp.status == 200
    assert orjson.loads(resp.data)["items"][0]["index"]["result"] == "created"


def test_errors_map_to_the_client_exceptions(es: Elasticsearch):
    with pytest.raises(NotFoundError) as missing:
        es.indices.get(index="definitely-missing-index")
    assert missing.value.message == "index_not_found_exception"
    with pytest.raises(ApiError):
        es.perform_request("GET", "/_nope/x/y/z", headers={"accept": V9})


def test_help_says_it_is_a_development_server():
    result = CliRunner().invoke(build_app(), ["devserver", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.replace("│", " ").split())
    assert "DEVELOPMENT server" in text
    assert "not Elasticsearch" in text


def test_an_unknown_version_is_a_usage_error():
    result = subprocess.run(
        [sys.executable, "-m", "samplerr", "devserver", "--port", "0", "--es-version", "7.17.0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "8.x or 9.x" in result.stderr
    assert "Traceback" not in result.stderr


def test_sigterm_stops_the_server_cleanly(start_devserver):
    server = start_devserver()
    assert server.stop() == 0
    assert "Traceback" not in server.stderr()


def test_malformed_http_gets_a_json_answer_with_the_product_header(devserver):
    with socket.create_connection(("127.0.0.1", devserver.port), timeout=10) as conn:
        conn.sendall(b"THIS IS NOT HTTP\r\n\r\n")
        answer = conn.recv(65536)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    assert b"X-Elastic-Product: Elasticsearch" in head
    assert orjson.loads(body)["status"] == 400
