"""The official 8.x client (installed in a throw-away virtualenv) against the 8.x and 9.x personalities."""

import json
import subprocess
import venv
from pathlib import Path

import pytest

SCRIPT = r"""
import json, sys
from elasticsearch import Elasticsearch, helpers, __versionstr__
es = Elasticsearch(sys.argv[1])
out = {"client": __versionstr__, "server": es.info()["version"]["number"]}
es.indices.create(index="client8", settings={"number_of_replicas": 0})
ok, _ = helpers.bulk(es, ({"_index": "client8", "_id": str(i), "_source": {"i": i}} for i in range(50)))
es.indices.refresh(index="client8")
out["bulk"] = ok
out["count"] = es.count(index="client8")["count"]
answer = es.search(index="client8", size=0, aggs={"s": {"sum": {"field": "i"}}})
out["sum"] = answer["aggregations"]["s"]["value"]
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def python8(tmp_path_factory) -> Path:
    where = tmp_path_factory.mktemp("es8-venv")
    venv.create(where, with_pip=True)
    python = where / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "elasticsearch>=8.19,<9"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if install.returncode != 0:
        pytest.skip(f"cannot install the 8.x client here: {install.stderr.strip()[-300:]}")
    return python


@pytest.mark.slow
@pytest.mark.parametrize("version", ["8.19.0", "9.1.0"])
def test_the_8_client_works_against_both_personalities(python8, start_devserver, version):
    server = start_devserver("--es-version", version)
    run = subprocess.run(
        [str(python8), "-c", SCRIPT, server.url], capture_output=True, text=True, timeout=120, check=False
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["client"].startswith("8.")
    assert result["server"] == version
    assert (result["bulk"], result["count"], result["sum"]) == (50, 50, float(sum(range(50))))
