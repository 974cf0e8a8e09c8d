import itertools
import time

import pytest

from bot.store import FixState, Store


@pytest.fixture
def store(tmp_path):
    db = Store(str(tmp_path / "s.sqlite3"))
    yield db
    db.close()


def test_jobs_of_one_lane_run_one_at_a_time_in_order(store):
    first = store.add_job("k", {"n": 1}, "pr:1")
    second = store.add_job("k", {"n": 2}, "pr:1")
    other = store.add_job("k", {"n": 3}, "pr:2")
    claimed = store.claim_job()
    assert claimed.id == first
    # The lane is busy, so the next claim skips to another lane.
    assert store.claim_job().id == other
    assert store.claim_job() is None
    store.finish_job(first)
    assert store.claim_job().id == second


def test_a_failed_job_waits_for_its_retry_time(store):
    job_id = store.add_job("k", {}, None)
    store.claim_job()
    store.fail_job(job_id, "boom", time.time() + 60)
    assert store.claim_job() is None
    assert store.pending_jobs() == 1


def test_running_jobs_are_requeued_after_a_restart(store):
    store.add_job("k", {}, None)
    store.claim_job()
    assert store.requeue_running_jobs() == 1
    assert store.claim_job() is not None


def test_a_delivery_is_seen_once(store):
    assert store.first_delivery("d-1", "push")
    assert not store.first_delivery("d-1", "push")
    store.forget_delivery("d-1")
    assert store.first_delivery("d-1", "push")


def test_occurrence_tally_adds_counts_and_widens_the_window(store):
    store.count_occurrence(
        "o/r", "fp", count=2, first_seen=200, last_seen=300, log_group="g"
    )
    fix = store.count_occurrence(
        "o/r", "fp", count=3, first_seen=100, last_seen=250, log_group="g"
    )
    assert (fix.occurrences, fix.first_seen, fix.last_seen) == (5, 100, 300)
    assert fix.state is FixState.NEW


def test_update_fix_refuses_unknown_columns(store):
    store.count_occurrence(
        "o/r", "fp", count=1, first_seen=1, last_seen=1, log_group="g"
    )
    with pytest.raises(ValueError):
        store.update_fix("o/r", "fp", occurrences=0)
    store.update_fix("o/r", "fp", state=FixState.OPEN, pr_number=7)
    assert store.fix_by_pr("o/r", 7).state is FixState.OPEN


def test_configured_repos_skip_suspended_installations(store):
    store.put_installation(1, "a")
    store.put_installation(2, "b")
    store.put_repo("a/x", 1, "main")
    store.put_repo("b/y", 2, "main")
    store.set_config("a/x", {"log_groups": []}, None)
    store.set_config("b/y", {"log_groups": []}, None)
    store.set_suspended(2, True)
    assert [r["full_name"] for r in store.configured_repos()] == ["a/x"]
    assert store.configured_repos(2) == []


def test_a_bad_config_keeps_the_last_good_one(store):
    store.put_installation(1, "a")
    store.put_repo("a/x", 1, "main")
    store.set_config("a/x", {"log_groups": ["g"]}, None)
    store.set_config("a/x", None, "bad key")
    row = store.repo("a/x")
    assert row["config"] == '{"log_groups": ["g"]}'
    assert row["config_error"] == "bad key"


def test_keys_revoke_once(store):
    store.put_key("k1", "s", 1, "/aws/lambda/")
    assert store.revoke_key("k1")
    assert not store.revoke_key("k1")
    assert store.key("k1").revoked


def test_a_retried_job_counts_its_occurrence_once(store):
    """A job that failed after counting is retried; the tally must not double."""
    occurrence_id = store.add_occurrence(
        fingerprint="fp",
        log_group="g",
        log_stream=None,
        key_id=None,
        count=4,
        first_seen=1,
        last_seen=2,
        traceback={"blocks": []},
        text="t",
    )
    occurrence = store.occurrence(occurrence_id)
    store.tally("o/r", occurrence)
    fix = store.tally("o/r", occurrence)
    assert fix.occurrences == 4
    assert fix.text == "t"


def test_old_deliveries_are_forgotten(store):
    store.first_delivery("old", "push")
    assert store.prune_deliveries(time.time() + 1) == 1
    assert store.first_delivery("old", "push")


def test_the_earliest_claim_of_a_log_group_comes_first(store, monkeypatch):
    """Regression: repos were ordered by when they were added, not by claim."""
    store.put_installation(1, "a")
    store.put_repo("a/old", 1, "main")
    store.put_repo("a/new", 1, "main")
    clock = itertools.count(100.0, 100.0)
    monkeypatch.setattr("bot.store.time.time", lambda: next(clock))
    store.set_config("a/new", {"log_groups": [{"name": "g"}]}, None)
    store.set_config("a/old", {"log_groups": [{"name": "g"}]}, None)
    assert [r["full_name"] for r in store.claimants("g")] == ["a/new", "a/old"]
    # Reloading a config keeps its claim's time; dropping the group ends it.
    store.set_config("a/new", {"log_groups": [{"name": "g"}, {"name": "h"}]}, None)
    assert [r["full_name"] for r in store.claimants("g")] == ["a/new", "a/old"]
    store.set_config("a/new", {"log_groups": [{"name": "h"}]}, None)
    assert [r["full_name"] for r in store.claimants("g")] == ["a/old"]
    store.remove_repo("a/old")
    assert store.claimants("g") == []
