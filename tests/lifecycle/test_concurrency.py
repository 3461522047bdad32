"""Two rotations or purges at the same moment (two hosts, cron and the service) against the dev server.

The runs are separate ``samplerr`` processes started together. The lifecycle lock makes them take
turns: the second reads the state the first left and has nothing left to do, so every index is
deleted once and the aliases end as one plan says.
"""

from __future__ import annotations

import subprocess
import time

import orjson
import pytest

from samplerr.lifecycle_ops import LockBusyError, lifecycle_lock, rotate
from tests.lifecycle.support import DAY_MONTH_YEAR, LifecycleEnv, Sampling, existing_indices, ts

SAMPLING = Sampling(2, lambda day: 3600)


@pytest.fixture
def env(es_url, tmp_path, request):
    name = "lcc" + request.node.name[5:25].replace("_", "")
    with LifecycleEnv(es_url, name, DAY_MONTH_YEAR, SAMPLING, tmp_path) as environment:
        yield environment


def start(env: LifecycleEnv, *args: str) -> subprocess.Popen[str]:
    """``samplerr ARGS --json`` as a process of its own, started now."""
    return subprocess.Popen(
        [*env.command(*args), "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err


def test_two_purges_at_once_delete_each_index_once_and_agree(env):
    days = [f"2026-10-{day:02d}" for day in range(1, 32)] + [f"2026-11-{day:02d}" for day in range(1, 23)]
    env.write(*days)
    now = "2026-11-22T12:00:00Z"
    runs = [start(env, "purge", "--now", now), start(env, "purge", "--now", now)]
    results = [finish(run) for run in runs]
    for status, _, err in results:
        assert status == 0, err
    deleted = [orjson.loads(out)["delete"] for _, out, _ in results]
    expected = {env.prefix + f"2026.10.{day:02d}" for day in range(1, 32)} | {
        env.prefix + f"2026.11.{day:02d}" for day in range(1, 20)
    }
    # one of them did it all; the other, under the lock after it, found nothing left to delete
    assert sorted(len(names) for names in deleted) == [0, len(expected)]
    assert set(deleted[0] + deleted[1]) == expected
    assert set(existing_indices(env.connection, env.config)) == env.model.kept_indices(ts(now))
    assert rotate(env.connection, env.config, ts(now), dry_run=True).plan.actions == ()
    env.assert_served_correctly(ts(now), days=30)


def test_rotations_and_purges_racing_end_in_one_consistent_state(env):
    env.write(*(f"2026-11-{day:02d}" for day in range(10, 23)))
    now = "2026-11-22T12:00:00Z"
    runs = [start(env, command, "--now", now) for command in ("rotate", "purge", "rotate", "purge")]
    for status, _, err in (finish(run) for run in runs):
        assert status == 0, err
    assert rotate(env.connection, env.config, ts(now), dry_run=True).plan.actions == ()
    assert set(existing_indices(env.connection, env.config)) == env.model.kept_indices(ts(now))
    env.assert_served_correctly(ts(now), days=12)


def foreign_lock(env: LifecycleEnv, expires_in_s: float) -> None:
    now_ms = int(time.time() * 1000)
    env.connection.request(
        "PUT",
        f"/{env.prefix}lock/_create/lifecycle",
        params={"refresh": "true"},
        body={
            "owner": "other-host:42:abcd",
            "acquired_ms": now_ms - 1000,
            "expires_ms": now_ms + int(expires_in_s * 1000),
        },
    )


def test_a_held_lock_makes_rotate_wait_then_fail_readably(env):
    env.write("2026-11-22")
    foreign_lock(env, 600)
    with pytest.raises(LockBusyError):
        rotate(env.connection, env.config, ts("2026-11-22T12:00:00Z"), lock_wait_s=0.3)
    status, out, err = finish(start(env, "rotate", "--now", "2026-11-22T12:00:00Z", "--lock-wait", "0.5"))
    assert status == 1
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "lifecycle lock" in err


def test_a_lock_left_by_a_crashed_run_is_taken_over_after_it_expires(env):
    env.write("2026-11-22")
    foreign_lock(env, -1)  # expired a second ago
    status, out, err = finish(start(env, "rotate", "--now", "2026-11-22T12:00:00Z", "--lock-wait", "5"))
    assert status == 0, err
    assert orjson.loads(out)["actions"]
    with lifecycle_lock(env.connection, env.config, wait_s=0) as lock:  # released after the run
        assert lock.held


def test_a_run_waits_for_the_other_to_finish(env):
    env.write("2026-11-22")
    with lifecycle_lock(env.connection, env.config, wait_s=0):
        waiting = start(env, "rotate", "--now", "2026-11-22T12:00:00Z", "--lock-wait", "60")
        time.sleep(1.5)
        assert waiting.poll() is None  # still waiting for us
    status, out, err = finish(waiting)
    assert status == 0, err
    assert orjson.loads(out)["actions"]
