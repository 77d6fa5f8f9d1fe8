"""The incident machine, tick by tick (every 10 s), and the grouping of sibling services."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from panne.incidents import (
    Policy,
    ServiceState,
    Signal,
    group_step,
    percentages,
    step,
)

P = Policy()
T = 1_709_652_300.0


def sig(at: float, *, alert: bool, observed: float | None = None, score: float | None = None,
        service: str = "facebook", countries: dict[str, int] | None = None,
        problems: dict[str, int] | None = None) -> Signal:  # fmt: skip
    return Signal(
        service, "meta", at, observed if observed is not None else (100.0 if alert else 5.0), 5.0,
        score if score is not None else (0.9 if alert else 0.05), alert,
        countries or {"US": 10, "TN": 3}, ("US",) if alert else (),
        problems or {"login": 8, "app": 2},
    )  # fmt: skip


def drive(pattern: list[tuple[float, bool]], state: ServiceState | None = None, **kw: object):
    state = state or ServiceState()
    out = []
    for at, alert in pattern:
        state, made = step(state, sig(at, alert=alert, **kw), P)  # type: ignore[arg-type]
        out += made
    return state, out


def test_opens_after_the_alert_holds_with_the_onset_before_detection() -> None:
    elevated = [(T + i * 10, False) for i in range(3)]
    state, _ = step(ServiceState(), sig(T - 30, alert=False, score=0.5, observed=20), P)
    state, out = drive([(T + i * 10, True) for i in range(4)], state)
    assert [t.kind for t in out] == ["opened"]
    inc = out[0].incident
    assert inc.started_at == T - 30 and inc.detected_at == T + 20
    assert inc.id == f"facebook-{int(T - 30)}"
    assert elevated  # (the quiet ticks before are not part of it)


def test_a_blip_shorter_than_open_after_never_opens() -> None:
    _, out = drive([(T, True), (T + 10, False), (T + 20, False)])
    assert out == []


def test_flapping_is_one_incident_and_resolution_waits_for_quiet() -> None:
    pattern = [(T + i * 10, (i // 3) % 2 == 0) for i in range(120)]  # on/off every 30 s
    pattern += [(T + 1200 + i * 10, False) for i in range(100)]
    _, out = drive(pattern)
    kinds = [t.kind for t in out]
    assert kinds.count("opened") == 1 and kinds.count("resolved") == 1
    resolved = out[-1].incident
    assert resolved.ended_at is not None and resolved.ended_at <= T + 1210
    assert out[-1].at - resolved.ended_at >= P.resolve_after_seconds


def test_peak_countries_problems_and_few_updates() -> None:
    pattern = [(T + i * 10, True) for i in range(60)]
    state = ServiceState()
    out = []
    for i, (at, alert) in enumerate(pattern):
        state, made = step(state, sig(at, alert=alert, observed=50.0 * (1 + i)), P)
        out += made
    inc = state.incident
    assert inc is not None
    assert inc.peak_per_minute == 50.0 * 60 and inc.peak_ratio == 50.0 * 60 / 5.0
    assert inc.ranked_countries()[0][0] == "US"
    assert inc.problem_percent() == {"login": 80.0, "app": 20.0}
    assert inc.severity == "critical"
    assert 1 <= sum(t.kind == "updated" for t in out) <= 12


def test_reopens_within_the_window() -> None:
    state, out = drive([(T + i * 10, True) for i in range(5)])
    state, out2 = drive([(T + 50 + i * 10, False) for i in range(100)], state)
    assert out2[-1].kind == "resolved"
    state, out3 = drive([(T + 1100 + i * 10, True) for i in range(4)], state)
    assert [t.kind for t in out3] == ["reopened"] and out3[0].incident.id == out[0].incident.id


def test_serialisation_round_trip_mid_incident() -> None:
    state, _ = drive([(T + i * 10, True) for i in range(10)])
    copy = ServiceState.from_dict(state.to_dict())
    rest = [(T + 100 + i * 10, i < 5) for i in range(120)]
    _, a = drive(rest, state)
    _, b = drive(rest, copy)
    assert [(t.kind, t.at, t.incident) for t in a] == [(t.kind, t.at, t.incident) for t in b]
    assert "opened" not in [t.kind for t in a]


def test_grouping_of_siblings() -> None:
    incs = {}
    for s in ("facebook", "instagram", "threads", "messenger"):
        _, out = drive([(T + i * 10, True) for i in range(3)], service=s)
        incs[s] = out[0].incident
    parent, made = group_step(None, "meta", [incs["facebook"]], T + 40)
    assert parent is None and made == []
    parent, made = group_step(None, "meta", [incs["facebook"], incs["instagram"]], T + 40)
    assert parent is not None and [t.kind for t in made] == ["opened"]
    parent, made = group_step(parent, "meta", list(incs.values()), T + 50)
    assert parent is not None and [t.kind for t in made] == ["member_added"]
    assert set(parent.members) == {"facebook", "instagram", "threads", "messenger"}
    title = parent.title({"facebook": "Facebook", "instagram": "Instagram", "threads": "Threads",
                          "messenger": "Messenger"}, "Meta")  # fmt: skip
    assert title.startswith("Meta: Facebook")
    parent, made = group_step(parent, "meta", [incs["threads"]], T + 60)
    assert parent is not None and made == []
    parent, made = group_step(parent, "meta", [], T + 70)
    assert parent is None and [t.kind for t in made] == ["resolved"]


@given(st.lists(st.tuples(st.booleans(), st.floats(0, 1)), max_size=200))
def test_any_sequence_alternates_opened_and_resolved(ticks: list[tuple[bool, float]]) -> None:
    state = ServiceState()
    open_now = False
    for i, (alert, score) in enumerate(ticks):
        state, made = step(state, sig(T + 10 * i, alert=alert, score=score), P)
        for t in made:
            if t.kind in ("opened", "reopened"):
                assert not open_now
                open_now = True
            elif t.kind == "resolved":
                assert open_now
                open_now = False
                assert t.incident.ended_at is not None
                assert t.incident.ended_at >= t.incident.started_at
            if t.incident.problems:
                assert abs(sum(t.incident.problem_percent().values()) - 100) < 1e-9


def test_percentages_sum_to_a_hundred() -> None:
    assert percentages({"a": 1, "b": 1, "c": 1}) == {"a": 33.4, "b": 33.3, "c": 33.3}
    assert percentages({}) == {}
