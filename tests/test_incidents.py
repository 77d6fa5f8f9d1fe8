"""The incident machine driven tick by tick (every 10 s, as the detector role runs it), and the
grouping of a company's services into one parent incident."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Mapping
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from panne.incident_groups import GroupTransition
from panne.incidents import (
    Incident,
    Policy,
    ServiceState,
    Signal,
    Transition,
    percentages,
    status_of,
    step,
)

P = Policy(open_after_seconds=60.0)  # the tests below count in minutes of alert
T = 1_709_652_300.0  # 2024-03-05 15:25 UTC
TICK = 10.0
COUNTRIES = {"US": 60, "GB": 25, "TN": 15}
PROBLEMS = {"login": 76, "app": 16, "website": 8}


def sig(
    at: float,
    *,
    alert: bool = False,
    score: float | None = None,
    observed: float | None = None,
    expected: float = 5.0,
    service: str = "facebook",
    countries: Mapping[str, int] = COUNTRIES,
    problems: Mapping[str, int] = PROBLEMS,
    onset: float | None = None,
) -> Signal:
    return Signal(
        service=service,
        group="meta",
        at=at,
        observed=observed if observed is not None else (200.0 if alert else 5.0),
        expected=expected,
        score=score if score is not None else (0.9 if alert else 0.05),
        alert=alert,
        countries=countries if alert or (score or 0) >= P.elevated_score else {"US": 3},
        alert_countries=("US",) if alert else (),
        problems=problems if alert or (score or 0) >= P.elevated_score else {"login": 3},
        onset=onset,
    )


def drive(
    signals: Iterable[Signal], state: ServiceState | None = None, policy: Policy = P
) -> tuple[ServiceState, list[Transition]]:
    state = state or ServiceState()
    out: list[Transition] = []
    for s in signals:
        state, made = step(state, s, policy)
        out += made
    return state, out


def ticks(start: float, seconds: float) -> list[float]:
    return [start + i * TICK for i in range(int(seconds // TICK))]


def quiet(start: float, seconds: float, **kw: object) -> list[Signal]:
    return [sig(at, **kw) for at in ticks(start, seconds)]  # type: ignore[arg-type]


def alerting(start: float, seconds: float, **kw: object) -> list[Signal]:
    return [sig(at, alert=True, **kw) for at in ticks(start, seconds)]  # type: ignore[arg-type]


def kinds(out: Iterable[Transition | GroupTransition]) -> list[str]:
    return [t.kind for t in out]


# -- opening ------------------------------------------------------------------------------------


def test_a_sharp_outage_opens_within_open_after_with_its_onset_before_detection() -> None:
    lead = quiet(T - 120, 120)
    elevated = [sig(T, score=0.5, observed=30.0)]  # a rise, not yet an alert
    state, out = drive([*lead, *elevated, *alerting(T + 10, 120)])
    assert kinds(out) == ["opened"]
    inc = out[0].incident
    assert inc.detected_at - (T + 10) <= P.open_after_seconds
    assert inc.started_at == T < inc.detected_at
    assert inc.id == f"facebook-{int(T)}"
    assert inc.status == "open" and inc.ended_at is None
    assert state.phase == "open"


def test_the_onset_may_reach_back_to_the_minute_but_not_past_a_quiet_tick() -> None:
    lead = quiet(T - 60, 60)  # the last quiet tick is at T - 10
    _, out = drive([*lead, *alerting(T, 90, onset=T - 40)])
    assert out[0].incident.started_at == T - 10
    _, out = drive(alerting(T, 90, onset=T - 40))  # nothing seen before: the onset stands
    assert out[0].incident.started_at == T - 40


def test_a_blip_shorter_than_open_after_never_opens() -> None:
    blip = alerting(T, P.open_after_seconds)  # six ticks: the alert held 50 s
    state, out = drive([*quiet(T - 60, 60), *blip, *quiet(T + 60, 1800)])
    assert out == []
    assert state.phase == "quiet" and state.incident is None


def test_a_flapping_signal_is_one_incident_not_many() -> None:
    flapping = [
        sig(at, alert=(i // 3) % 2 == 0)  # 30 s on, 30 s off, for 20 minutes
        for i, at in enumerate(ticks(T, 1200))
    ]
    _, out = drive([*flapping, *quiet(T + 1200, 1800)])
    assert kinds(out) == ["opened", "resolved"]


# -- resolving ----------------------------------------------------------------------------------


def test_resolves_after_resolve_after_of_quiet_and_ends_when_it_went_quiet() -> None:
    state, out = drive([*alerting(T, 600), *quiet(T + 600, P.resolve_after_seconds)])
    assert kinds(out) == ["opened"] and state.phase == "recovering"
    state, out = drive(quiet(T + 600 + P.resolve_after_seconds, 60), state)
    assert kinds(out) == ["resolved"]
    done = out[0].incident
    assert done.ended_at == T + 600  # the first quiet tick, not the tick that confirmed it
    assert out[0].at == done.ended_at + P.resolve_after_seconds
    assert done.duration_seconds == done.ended_at - done.started_at == 600
    assert done.status == "resolved" and state.phase == "resolved"


def test_a_score_between_the_thresholds_keeps_an_incident_open() -> None:
    lingering = [sig(at, score=P.elevated_score + 0.05, observed=40.0) for at in ticks(T, 3600)]
    state, out = drive([*alerting(T - 120, 120), *lingering])
    assert kinds(out) == ["opened"] and state.phase == "open"


def test_a_restart_gap_is_not_taken_as_quiet() -> None:
    state, _ = drive([*alerting(T, 300), *quiet(T + 300, 30)])
    state, out = drive([sig(T + 300 + 3600)], state)  # an hour unseen, then one quiet tick
    assert out == [] and state.phase == "recovering"


# -- what an incident records ---------------------------------------------------------------------


def test_peak_and_peak_ratio_with_the_expected_floored() -> None:
    rates = [100.0, 400.0, 900.0, 700.0, 300.0] * 6
    signals = [
        sig(at, alert=True, observed=r, expected=0.2)
        for at, r in zip(ticks(T, 300), rates, strict=True)
    ]
    state, _ = drive(signals)
    inc = state.incident
    assert inc is not None
    assert inc.peak_per_minute == 900.0
    assert inc.peak_ratio == 900.0 / P.expected_floor_per_minute  # not 900 / 0.2
    assert inc.peak_at == T + 70  # the first time it was reached once open (at T + 60)
    assert inc.severity == "critical"


def test_countries_ranked_and_problems_in_percent_summing_to_a_hundred() -> None:
    problems = {"login": 5, "app": 3, "website": 3}  # thirds do not round to 100 on their own
    state, _ = drive(alerting(T, 1800, problems=problems))
    inc = state.incident
    assert inc is not None
    assert [c for c, _ in inc.countries] == ["US", "GB", "TN"]
    assert sum(inc.problems.values()) == pytest.approx(100.0)
    assert list(inc.problems) == ["login", "app", "website"]
    assert inc.problems == {"login": 45.4, "app": 27.3, "website": 27.3}


def test_window_counts_are_not_counted_once_per_tick() -> None:
    # 100 reports a minute for 30 minutes, seen through a 15-minute window every 10 s.
    state, _ = drive(alerting(T, 1800, countries={"US": 1500}, problems={"login": 1500}))
    inc = state.incident
    assert inc is not None
    assert 2500 <= inc.reports <= 5000  # about 3,000 (+ the window before detection), not 270,000
    assert inc.countries == (("US", inc.reports),)


def test_updates_are_few_over_a_growing_outage() -> None:
    growing = [  # reports climb from 50 to about 1,400 a minute in half an hour
        sig(at, alert=True, observed=50.0 * 1.0037 ** (i * 5), expected=50.0)
        for i, at in enumerate(ticks(T, 1800))
    ]
    _, out = drive(growing)
    updates = kinds(out).count("updated")
    assert 1 <= updates <= 10
    for a, b in itertools.pairwise(t.incident for t in out):  # each says something new
        assert b.peak_per_minute >= 1.5 * a.peak_per_minute or b.severity != a.severity


def test_ranks_swapping_between_rivals_is_news_only_once() -> None:
    a = {"US": 50, "GB": 20, "FR": 15, "DE": 14}
    b = {"US": 50, "GB": 20, "DE": 16, "FR": 13}
    swapping = [
        sig(at, alert=True, countries=a if (i // 30) % 2 else b)
        for i, at in enumerate(ticks(T, 3600))
    ]
    _, out = drive(swapping)
    assert kinds(out).count("updated") <= 1


def test_a_country_reaching_a_tie_for_third_is_not_news_until_it_leads_clearly() -> None:
    # Tunisia was third from the start; France arrives later and catches it up. Level, or a
    # report ahead, France ranks third only by its code: not news until it clearly leads.
    before = {"US": 600, "GB": 250, "TN": 150}
    after = {"US": 600, "GB": 250, "TN": 0, "FR": 300}
    _, out = drive(
        [
            *alerting(T, 600, countries=before),
            *alerting(T + 600, 1800, countries=after),
        ]
    )
    told = [t.incident for t in out if t.kind == "updated" and "FR" in dict(t.incident.countries)]
    assert told, "France clearly ahead of Tunisia is news"
    first = dict(told[0].countries)
    assert first["FR"] > P.update_rank_margin * first["TN"]


def test_nothing_is_news_once_the_rate_is_back_near_normal() -> None:
    # The detector's trailing window keeps alerting for minutes after reports stop; what the
    # window still adds (a new country, a new top problem) is not news about an outage that
    # has faded: reports are not "still coming".
    state, opened = drive(alerting(T, 600))
    assert kinds(opened) == ["opened"]
    fading = [
        sig(at, alert=True, observed=0.0, countries={"FR": 900}, problems={"app": 900})
        for at in ticks(T + 600, 600)
    ]
    _, out = drive(fading, state)
    assert kinds(out) == []
    _, still = drive([replace(s, observed=150.0) for s in fading], state)
    assert "updated" in kinds(still)  # the same tallies while reports keep coming are news


def test_a_problem_drawing_level_with_the_top_one_is_not_news() -> None:
    # "app" catches "login" up and edges past it (and sorts first on a tie): a rival a few
    # percent ahead is not a new top problem worth a message.
    state, opened = drive(alerting(T, 120, problems={"login": 500, "app": 450}))
    assert next(iter(opened[0].incident.problems)) == "login"
    final, out = drive(alerting(T + 120, 3600, problems={"login": 500, "app": 520}), state)
    assert final.incident is not None and next(iter(final.incident.problems)) == "app"
    assert all(next(iter(t.incident.problems)) != "app" for t in out if t.kind == "updated")


def test_alert_countries_are_kept_in_the_order_first_seen() -> None:
    def with_alerts(at: float, codes: tuple[str, ...]) -> Signal:
        return Signal("facebook", "meta", at, 200.0, 5.0, 0.9, True, COUNTRIES, codes, PROBLEMS)

    signals = [with_alerts(at, ("US",)) for at in ticks(T, 70)]
    signals += [with_alerts(T + 70, ("GB", "US")), with_alerts(T + 80, ("TN", "GB"))]
    state, _ = drive(signals)
    assert state.incident is not None
    assert state.incident.alert_countries == ("US", "GB", "TN")


# -- reopening ------------------------------------------------------------------------------------


def test_an_alert_soon_after_resolving_reopens_the_same_incident() -> None:
    state, first = drive([*alerting(T, 300), *quiet(T + 300, 960)])
    assert kinds(first) == ["opened", "resolved"]
    resolved_at = first[-1].at
    state, again = drive(alerting(resolved_at + 300, 120), state)
    assert kinds(again) == ["reopened"]
    assert again[0].incident.id == first[0].incident.id
    assert again[0].incident.started_at == T and again[0].incident.ended_at is None


def test_an_alert_long_after_resolving_is_a_new_incident() -> None:
    _, first = drive([*alerting(T, 300), *quiet(T + 300, 960)])
    later = first[-1].at + P.reopen_within_seconds + 60
    _, out = drive([*quiet(first[-1].at + 10, later - first[-1].at), *alerting(later, 120)])
    assert kinds(out) == ["opened"] and out[0].incident.id != first[0].incident.id


# -- restarts -------------------------------------------------------------------------------------


def restored(state: ServiceState) -> ServiceState:
    return ServiceState.from_dict(json.loads(json.dumps(state.to_dict())))


@pytest.mark.parametrize("cut", [3, 5, 12, 40, 70, 150])  # pending, open, recovering, resolved
def test_a_restart_mid_incident_changes_nothing_that_follows(cut: int) -> None:
    story = [*alerting(T, 300), *quiet(T + 300, 300), *alerting(T + 600, 100)]
    story += quiet(T + 700, 1200)
    state, before = drive(story[:cut])
    copy = restored(state)
    assert copy == state
    _, a = drive(story[cut:], state)
    _, b = drive(story[cut - 1 :], copy)  # the last tick is replayed after the restart
    assert a == b
    assert kinds(before + a).count("opened") == 1 and kinds(before + a)[-1] == "resolved"


def test_snapshots_serialise_to_json() -> None:
    _, out = drive([*alerting(T, 300), *quiet(T + 300, 960)])
    for t in out:
        d = json.loads(json.dumps(t.to_dict()))
        assert Incident.from_dict(d["incident"]) == t.incident and d["kind"] == t.kind


# -- status ---------------------------------------------------------------------------------------


def test_status_says_normal_elevated_or_outage() -> None:
    state = ServiceState()
    seen = []
    for s in [sig(T), sig(T + 10, score=0.5), *alerting(T + 20, 120), sig(T + 140)]:
        state, _ = step(state, s, P)
        seen.append(status_of(state, s, P))
    assert seen[0] == "normal" and seen[1] == "elevated" and seen[2] == "elevated"
    assert seen[-2] == "outage" and seen[-1] == "outage"  # recovering, still unresolved


# -- helpers and policy ---------------------------------------------------------------------------


def test_percentages_sum_to_a_hundred_with_one_decimal() -> None:
    assert percentages({"a": 1, "b": 1, "c": 1}) == {"a": 33.4, "b": 33.3, "c": 33.3}
    assert percentages({"a": 0, "b": 0}) == {}
    assert percentages({}) == {}


def test_a_policy_with_impossible_values_is_refused() -> None:
    with pytest.raises(ValueError, match="elevated_score"):
        Policy(elevated_score=0)
    with pytest.raises(ValueError, match="negative"):
        Policy(open_after_seconds=-1)
    with pytest.raises(ValueError, match="update_rank_margin"):
        Policy(update_rank_margin=0.5)
    with pytest.raises(ValueError, match="window_seconds"):
        Signal("facebook", "meta", T, 1.0, 1.0, 0.0, False, window_seconds=0)


# -- properties -----------------------------------------------------------------------------------

tick_strategy = st.tuples(
    st.booleans(),  # alert
    st.floats(0, 1),  # score
    st.floats(0, 5000),  # observed per minute
    st.sampled_from([10.0, 10.0, 10.0, 20.0, 300.0, 3600.0]),  # time to the next tick
    st.dictionaries(st.sampled_from(["login", "app", "website"]), st.integers(0, 50)),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(tick_strategy, max_size=300), st.integers(0, 300))
def test_any_sequence_tells_a_consistent_story(
    seq: list[tuple[bool, float, float, float, dict[str, int]]], cut: int
) -> None:
    signals, at = [], T
    for alert, score, observed, gap, problems in seq:
        signals.append(
            Signal("facebook", "meta", at, observed, 5.0, score, alert, {"US": 1}, (), problems)
        )
        at += gap
    state, is_open = ServiceState(), False
    seen: dict[str, list[str]] = {}
    for s in signals:
        state, made = step(state, s, P)
        for t in made:
            inc = t.incident
            if t.kind in ("opened", "reopened"):
                assert not is_open
                is_open = True
            elif t.kind == "resolved":
                assert is_open and inc.ended_at is not None
                assert inc.started_at <= inc.ended_at <= t.at
                is_open = False
            else:
                assert is_open
            assert inc.started_at <= inc.detected_at <= t.at
            assert inc.duration_seconds >= 0
            if inc.problems:
                assert sum(inc.problems.values()) == pytest.approx(100.0)
            seen.setdefault(inc.id, []).append(t.kind)
    for story in seen.values():  # an id opens once; later it can only be reopened
        assert story[0] == "opened" and story.count("opened") == 1
    assert is_open == (state.phase in ("open", "recovering"))

    # A restart at any point (its last tick replayed) leaves the rest of the story unchanged.
    before, _ = drive(signals[:cut])
    _, straight = drive(signals[cut:], before)
    _, resumed = drive(signals[max(cut - 1, 0) :], restored(before))
    assert straight == resumed
