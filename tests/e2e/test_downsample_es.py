"""`samplerr downsample --es`: the documents land in the expected indices with the expected ids,
against an 8.x and a 9.x server, written by one install."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.devserver.process import DevServerProcess

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "events.jsonl.gz"
ARCHIVES = ROOT / "archives.toml"


def samplerr(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "samplerr", *args], capture_output=True, text=True, timeout=180, check=False
    )


def bulk_ids(path: Path) -> dict[str, str]:
    """_id -> _index of every action line of a bulk file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return {
        action["index"]["_id"]: action["index"]["_index"]
        for action in (json.loads(line) for line in lines[::2])
    }


@pytest.mark.parametrize("version", ["9.1.0", "8.19.0"])
def test_downsample_to_elasticsearch_matches_the_bulk_file(
    version: str, start_devserver: Callable[..., DevServerProcess], tmp_path: Path
) -> None:
    server = start_devserver("--es-version", version)
    bulk = tmp_path / "bulk.ndjson"
    offline = samplerr("downsample", "--config", str(ARCHIVES), "--input", str(SAMPLE), "--output", str(bulk))
    assert offline.returncode == 0, offline.stderr
    expected = bulk_ids(bulk)

    result = samplerr(
        "downsample", "--config", str(ARCHIVES), "--input", str(SAMPLE), "--es", server.url, "--json"
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stderr.strip().splitlines()[-1])
    assert summary["elasticsearch"]["docs_ok"] == summary["documents_total"]
    assert summary["elasticsearch"]["docs_failed"] == {}

    # read back over plain HTTP with application/json, which 8.x and 9.x servers both accept
    query("POST", server.url, "/.samplerr-*/_refresh?expand_wildcards=all")
    per_index = Counter(expected.values())
    assert set(per_index) == {".samplerr-2026.11.22", ".samplerr-2026.11", ".samplerr-2026"}
    for index, count in per_index.items():
        assert query("GET", server.url, f"/{index}/_count")["count"] == count
    search = {"query": {"match_all": {}}, "size": 1000, "sort": ["@timestamp", "_id"]}
    hits = query("POST", server.url, "/.samplerr-2026/_search", search)["hits"]["hits"]
    assert {hit["_id"] for hit in hits} == {i for i, idx in expected.items() if idx == ".samplerr-2026"}
    for hit in hits:
        doc = hit["_source"]
        start = int(datetime.fromisoformat(doc["@timestamp"]).timestamp())
        assert hit["_id"].endswith(f".3600.{doc['cfunc']}.{start}")
        assert doc["step"] == 3600 and doc["cfunc"] in {"avg", "min", "max"}
    mapping = query("GET", server.url, "/.samplerr-2026.11.22/_mapping")
    props = mapping[".samplerr-2026.11.22"]["mappings"]["properties"]
    assert props["@timestamp"]["type"] == "date"
    assert props["host"]["type"] == "keyword"
    assert props["metric"]["type"] == "double"


def query(method: str, base: str, path: str, body: object = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        base + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_downsample_to_an_unreachable_elasticsearch_fails_cleanly() -> None:
    result = samplerr(
        "downsample", "--config", str(ARCHIVES), "--input", str(SAMPLE), "--es", "http://127.0.0.1:9"
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "127.0.0.1:9" in result.stderr
