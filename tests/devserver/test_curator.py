"""elasticsearch-curator 9 (installed in a throw-away virtualenv) runs its age-based deletions here."""

import subprocess
import venv
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch


@pytest.fixture(scope="module")
def curator_cli(tmp_path_factory) -> Path:
    where = tmp_path_factory.mktemp("curator-venv")
    venv.create(where, with_pip=True)
    install = subprocess.run(
        [str(where / "bin" / "python"), "-m", "pip", "install", "-q", "elasticsearch-curator>=9,<10"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if install.returncode != 0:
        pytest.skip(f"cannot install elasticsearch-curator here: {install.stderr.strip()[-300:]}")
    return where / "bin" / "curator_cli"


def curator(cli: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(cli), "--hosts", url, *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.slow
def test_curator_deletes_indices_older_than_a_cutoff(curator_cli, start_devserver):
    server = start_devserver()
    es = Elasticsearch(server.url)
    for name in ("cur-2020.01.01", "cur-2020.01.02", "cur-2999.01.01", "other-2020.01.01"):
        es.indices.create(index=name)
    older = (
        '[{"filtertype":"pattern","kind":"prefix","value":"cur-"},'
        '{"filtertype":"age","source":"name","direction":"older","timestring":"%Y.%m.%d","unit":"days",'
        '"unit_count":30}]'
    )
    dry = curator(curator_cli, server.url, "--dry-run", "delete-indices", "--filter_list", older)
    assert dry.returncode == 0, dry.stderr + dry.stdout
    assert sorted(es.indices.get(index="*")) == [
        "cur-2020.01.01",
        "cur-2020.01.02",
        "cur-2999.01.01",
        "other-2020.01.01",
    ]
    run = curator(curator_cli, server.url, "delete-indices", "--filter_list", older)
    assert run.returncode == 0, run.stderr + run.stdout
    assert sorted(es.indices.get(index="*")) == ["cur-2999.01.01", "other-2020.01.01"]
    es.close()
