"""Hidden archive indices and the Warning headers of a bulk request that creates many of them.

Elasticsearch answers a request that auto-creates dot-prefixed indices with one ``Warning`` header per
visible index it created (``index name [.x] starts with a dot …``, 7.7+), and from 8.16 one more per
index, hidden or not (``Index [.x] name begins with a dot …``). Python's ``http.client`` refuses an
answer with more than 100 headers: the bulk writer sees a lost connection and sends the request again
(the indices exist by then, so the retry succeeds). samplerr's template hides its indices, which
removes the first kind; these tests pin what that buys on each version the dev server plays.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import orjson
import pytest

from samplerr.adapters.es_bulk import BulkReport, BulkWriter
from samplerr.adapters.es_connection import EsConnection
from samplerr.adapters.es_template import install_template
from samplerr.configfile import load_config
from samplerr.core.config import Config
from tests.adapters.es_support import settings_for
from tests.devserver.process import DevServerProcess


@pytest.fixture(scope="module", params=["8.15.0", "8.19.0", "9.1.0"])
def server(request: pytest.FixtureRequest) -> Iterator[DevServerProcess]:
    process = DevServerProcess("--es-version", request.param).start()
    yield process
    process.close()


@pytest.fixture
def config(server: DevServerProcess) -> Config:
    return dataclasses.replace(load_config(None, env={}), elasticsearch=settings_for(server.url))


def one_bulk(config: Config, new_indices: int, *, template: bool) -> BulkReport:
    """One bulk request (one document in each of ``new_indices`` daily indices) through the writer."""
    prefix = config.elasticsearch.index_prefix
    lines = []
    for day in range(new_indices):
        lines.append(
            orjson.dumps({"index": {"_index": f"{prefix}{2000 + day // 365}.{day % 365:03d}", "_id": "a"}})
        )
        lines.append(orjson.dumps({"@timestamp": "2026-11-22T00:00:00Z", "metric": 1.0, "cfunc": "avg"}))
    with EsConnection(config.elasticsearch) as connection:
        if template:
            install_template(connection, config)
        return BulkWriter(connection, sleep=lambda _: None).write(b"\n".join(lines) + b"\n")


def warnings_per_new_index(server: DevServerProcess, *, hidden: bool) -> int:
    since_8_16 = "8.15" not in " ".join(server.args)
    return int(since_8_16) + int(not hidden)


@pytest.mark.parametrize("template", [True, False], ids=["hidden", "visible"])
def test_a_bulk_creating_many_indices_needs_no_retry_while_the_warnings_fit(
    server: DevServerProcess, config: Config, template: bool
):
    per_index = warnings_per_new_index(server, hidden=template)
    new_indices = 150 if per_index == 0 else 90  # 90 headers fit, 150 would not
    report = one_bulk(config, new_indices, template=template)
    assert report.docs_ok == new_indices
    assert report.request_retries == (1 if per_index * new_indices > 100 else 0)


def test_more_than_100_new_hidden_indices_still_overflow_from_8_16(server: DevServerProcess, config: Config):
    """What hiding cannot fix: 8.16+ warns for every dot index it creates (a retry, nothing lost)."""
    report = one_bulk(config, 150, template=True)
    assert report.docs_ok == 150
    assert report.request_retries == warnings_per_new_index(server, hidden=True)


def test_writer_retry_is_what_saves_the_overflowing_request(
    start_devserver: Callable[..., DevServerProcess],
):
    """Without the template, on 8.15: 150 visible dot indices, 150 headers, one lost answer, one retry."""
    old = start_devserver("--es-version", "8.15.0")
    config = dataclasses.replace(load_config(None, env={}), elasticsearch=settings_for(old.url))
    report = one_bulk(config, 150, template=False)
    assert (report.docs_ok, report.request_retries) == (150, 1)
