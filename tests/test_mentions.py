"""Mentions as a watched series: posts in, counts stored per minute, the detector's judgement
stored and resumed after a restart, and an incident's evidence showing them (both backends)."""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine
from tests.conftest import START, free_port, settings_for

from panne.clock import ManualClock
from panne.config import ConfigError, load
from panne.fusion_store import evidence_for, evidence_json
from panne.mention_role import JUDGE_LAG_SECONDS, STATE_KEY, MentionRole
from panne.node import Node
from panne.signals.social import Post
from panne.store import mentions as store
from panne.store.incidents import IncidentRecord

T = int(START)  # 2024-03-05 15:00 UTC
BURST = T + 10 * 60
DOWN = ["facebook is down", "is facebook down for anyone else?", "#facebookdown", "fb down??"]


def down_posts(minute: int, n: int, tag: str = "p") -> list[Post]:
    return [Post(f"{tag}-{minute}-{i}", DOWN[i % len(DOWN)], minute + i % 60) for i in range(n)]


def quiet_history(engine: Engine, days: int = 3, seed: int = 1) -> None:
    """A few days of the mentions a quiet Facebook gets: a fraction of a post a minute, more in
    the evening, stored as the role would have stored them."""
    rng = np.random.default_rng(seed)
    minutes = T - days * 86_400 + 60 * np.arange(days * 1440)
    hour = (minutes % 86_400) / 3600
    rate = 0.15 + 0.25 * (1 + np.cos(2 * np.pi * (hour - 19) / 24)) / 2
    counts = rng.poisson(rate)
    store.add_counts(
        engine, {("facebook", int(m)): int(n) for m, n in zip(minutes, counts, strict=True) if n}
    )


def make_node(db_url: str, clock: ManualClock) -> Node:
    node = Node(settings_for(db_url), clock=clock, background=False)
    node.start()
    return node


def test_counts_add_up_and_judgements_are_stored_once(engine: Engine) -> None:
    store.add_counts(engine, {("facebook", T): 2, ("instagram", T): 1})
    store.add_counts(engine, {("facebook", T): 3, ("facebook", T + 60): 1, ("x", T): 0})
    assert store.counts_between(engine, T, T + 120) == {
        ("facebook", T): 5,
        ("instagram", T): 1,
        ("facebook", T + 60): 1,
    }
    assert store.counts_between(engine, T, T + 60, ["instagram"]) == {("instagram", T): 1}
    assert store.first_minute(engine, T - 600) == T
    first = store.MentionJudgement("facebook", T, 5, 0.5, 0.99, True)
    with engine.begin() as conn:
        store.record(conn, [first])
    with engine.begin() as conn:  # judged again after a restart: the first word stands
        store.record(conn, [store.MentionJudgement("facebook", T, 9, 1.0, 0.1, False)])
    assert store.judgements(engine, T, T + 60) == [first]
    rows = store.window(engine, ["facebook"], T, T + 60)
    assert [(r.minute, r.count, r.expected, r.alert) for r in rows] == [
        (T, 5, 0.5, True),
        (T + 60, 1, None, None),
    ]
    with engine.begin() as conn:
        store.save_state(conn, "k", {"a": 1}, T)
    with engine.begin() as conn:
        store.save_state(conn, "k", {"a": 2}, T + 60)
    assert store.load_state(engine, "k") == {"a": 2}
    assert store.load_state(engine, "missing") is None


def test_posts_are_matched_deduplicated_and_counted_per_minute(node: Node) -> None:
    posts = [
        Post("1", "instagram is down again", T + 5),
        Post("1", "instagram is down again", T + 5),  # a replay of the same post
        Post("2", "whatsapp caiu?", T + 30, "pt"),
        Post("3", "I love my instagram feed today", T + 40),
        Post("4", "#instagramdown", T + 70),
    ]
    node.mentions_once(posts)
    assert store.counts_between(node.engine, T, T + 120) == {
        ("instagram", T): 1,
        ("whatsapp", T): 1,
        ("instagram", T + 60): 1,
    }
    assert node.mentions.counter.duplicates == 1


def run_minutes(node: Node, clock: ManualClock, first: int, last: int, burst_from: int) -> None:
    rng = np.random.default_rng(first)
    for m in range(first, last, 60):
        clock.set(m + 30)
        n = 25 if m >= burst_from else int(rng.poisson(0.3))
        node.mentions_once(down_posts(m, n))
    clock.set(last + JUDGE_LAG_SECONDS)
    node.mentions_once()


def test_a_burst_after_a_quiet_baseline_alerts_is_stored_and_survives_a_restart(
    db_url: str, clock: ManualClock
) -> None:
    node = make_node(db_url, clock)
    quiet_history(node.engine)
    clock.set(T)
    run_minutes(node, clock, T, BURST + 4 * 60, BURST)
    judged = {j.minute: j for j in store.judgements(node.engine, T, BURST + 600, ["facebook"])}
    assert not any(j.alert for m, j in judged.items() if m < BURST)
    assert judged[BURST].alert or judged[BURST + 60].alert
    assert all(judged[m].alert for m in range(BURST + 60, BURST + 240, 60))
    assert judged[BURST].observed == 25 and judged[BURST].expected < 1.0
    assert store.load_state(node.engine, STATE_KEY) is not None
    row = node.mentions.slugs.index("facebook")
    saved = node.mentions.bank.state_of(row)
    node.stop()

    again = make_node(db_url, clock)
    try:
        again.mentions_once()  # nothing new to judge: the same minute
        role = again.mentions
        assert role.resumed and role.judged_until == BURST + 4 * 60
        assert role.bank.state_of(role.slugs.index("facebook")) == saved
        run_minutes(again, clock, BURST + 4 * 60, BURST + 6 * 60, BURST)
        later = store.judgements(again.engine, BURST + 4 * 60, BURST + 6 * 60, ["facebook"])
        assert [j.alert for j in later] == [True, True]  # the burst is still unusual

        incident = IncidentRecord(
            "inc-m", "service", "facebook", "meta", None, "open", "major", "Facebook",
            BURST, BURST + 120, None, 40.0, 6.0, [("US", 200)], {"login": 90.0}, [],
        )  # fmt: skip
        evidence = evidence_for(again.engine, incident, BURST + 6 * 60)
        assert evidence.mentions is not None
        assert evidence.mentions.peak_per_minute == 25.0
        assert evidence.mentions.usual_per_minute < 1.0
        assert evidence.mentions.baseline  # days of quiet history learned first
        assert evidence.mentions.alert_minutes >= 5
        assert evidence.fuse().signals == ["reports", "mentions"]
        body = evidence_json(evidence)["mentions"]
        assert body["elevated"] is True and body["posts"] >= 150
    finally:
        again.stop()


def test_at_a_cold_start_only_a_clear_burst_of_mentions_agrees(
    node: Node, clock: ManualClock
) -> None:
    """No history: the detector expects about nothing, so against it eight posts a minute were
    "elevated" (and two would have been); without its warm-up they are no baseline."""
    incident = IncidentRecord(
        "inc-c", "service", "facebook", "meta", None, "open", "major", "Facebook",
        T + 120, T + 180, None, 12.0, 2.5, [("US", 30), ("GB", 10)], {}, [],
    )  # fmt: skip
    for m in range(T, T + 5 * 60, 60):
        clock.set(m + 30)
        node.mentions_once(down_posts(m, 8, "cold"))
    clock.set(T + 5 * 60 + JUDGE_LAG_SECONDS)
    node.mentions_once()
    judged = store.judgements(node.engine, T, T + 300, ["facebook"])
    assert len(judged) == 5 and judged[0].expected < 1.0  # what "usual" was
    evidence = evidence_for(node.engine, incident, T + 300)
    assert evidence.mentions is not None and evidence.mentions.peak_per_minute == 8.0
    assert evidence.mentions.baseline is False and not evidence.mentions.elevated
    assert evidence.fuse().signals == ["reports"]
    assert evidence_json(evidence)["mentions"]["baseline"] is False

    clock.set(T + 5 * 60 + 30)  # a burst no usual level explains counts even so
    node.mentions_once(down_posts(T + 5 * 60, 40, "loud"))
    loud = evidence_for(node.engine, incident, T + 6 * 60)
    assert loud.mentions is not None and loud.mentions.elevated
    assert loud.fuse().signals == ["reports", "mentions"]


def test_an_incident_without_mentions_has_none(engine: Engine) -> None:
    store.add_counts(engine, {("instagram", BURST): 4})
    incident = IncidentRecord(
        "inc-q", "service", "facebook", "meta", None, "open", "major", "Facebook",
        BURST, BURST + 60, None, 40.0, 6.0, [("US", 200)], {}, [],
    )  # fmt: skip
    assert evidence_for(engine, incident, BURST + 300).mentions is None


def test_the_role_follows_a_json_lines_file(node: Node, tmp_path: Path) -> None:
    path = tmp_path / "posts.jsonl"
    path.write_text(json.dumps({"id": "old", "text": "facebook is down", "created_at": T}) + "\n")
    settings = settings_for(node.settings.database_url, social_source=f"jsonl:{path}")
    role = MentionRole(node.engine, settings, node.clock, lambda: node.catalog)
    role.flush_seconds = 0.05
    stop = threading.Event()
    thread = threading.Thread(target=role.serve, args=(stop,), daemon=True)
    thread.start()
    try:
        assert role.reading.wait(10)
        lines = [
            {"id": "a", "text": "instagram is down", "created_at": "2024-03-05T15:01:10Z"},
            {"id": "b", "text": "is instagram down?", "created_at": T + 75, "lang": "en"},
            "not json",
            {"id": "c", "text": "the weather is nice", "created_at": T + 80},
        ]
        with path.open("a", encoding="utf-8") as f:
            for line in lines:
                f.write((line if isinstance(line, str) else json.dumps(line)) + "\n")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            got = store.counts_between(node.engine, T, T + 120)
            if got:
                break
            time.sleep(0.05)
        assert got == {("instagram", T + 60): 2}  # the line there before the role is not read
    finally:
        stop.set()
        role.wake()
        thread.join(10)
    assert not thread.is_alive()


def test_a_stream_that_is_away_is_one_line_per_attempt_not_a_traceback(
    node: Node, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"http://127.0.0.1:{free_port()}/api/v1/streaming/public"  # nobody listens there
    settings = settings_for(node.settings.database_url, social_source=f"mastodon:{url}")
    role = MentionRole(node.engine, settings, node.clock, lambda: node.catalog)
    stop = threading.Event()
    thread = threading.Thread(target=role.serve, args=(stop,), daemon=True)
    with caplog.at_level(logging.WARNING, logger="panne.mention_role"):
        thread.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(caplog.records) < 2:
            time.sleep(0.05)
        stop.set()
        role.wake()
        thread.join(10)
    failed = [r for r in caplog.records if "failed" in r.getMessage()]
    assert len(failed) >= 2, caplog.text
    for record in failed:
        assert record.exc_info is None and "\n" not in record.getMessage()
        assert "reconnecting in" in record.getMessage()
    assert not thread.is_alive()


def test_settings_check_the_source_and_hide_the_token() -> None:
    s = load(environ={"PANNE_SOCIAL_SOURCE": "mastodon:https://m.example/api/v1/streaming/public",
                      "PANNE_SOCIAL_TOKEN": "s3cret"})  # fmt: skip
    assert s.social_token == "s3cret" and "s3cret" not in repr(s)
    for bad in ("twitter:x", "jsonl:", "mastodon:ftp://m.example"):
        with pytest.raises(ConfigError, match="social_source"):
            load(environ={"PANNE_SOCIAL_SOURCE": bad})
