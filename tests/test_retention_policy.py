"""Retention rules as pure functions: month ends, leap days, classes, holds,
reclassification, and who may delete when."""

from __future__ import annotations

from datetime import date

import pytest

from retention.policy import ClipFacts, Policy, add_months, classify, deletion_refusal, sweep

POLICY = Policy(general_months=3, litigation_months=6)


@pytest.mark.parametrize(("day", "months", "expected"), [
    (date(2026, 1, 31), 1, date(2026, 2, 28)),
    (date(2028, 1, 31), 1, date(2028, 2, 29)),  # leap year
    (date(2027, 11, 30), 3, date(2028, 2, 29)),
    (date(2028, 2, 29), 12, date(2029, 2, 28)),
    (date(2026, 11, 3), 3, date(2027, 2, 3)),
    (date(2026, 12, 31), 6, date(2027, 6, 30)),
    (date(2026, 8, 31), 6, date(2027, 2, 28)),
])
def test_add_months(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected


def facts(**changes: object) -> ClipFacts:
    base: dict[str, object] = {"clip_id": "c1", "sha256": "ab" * 32, "recorded_on": date(2026, 11, 30),
                               "ingested_on": date(2026, 11, 30)}
    return ClipFacts(**{**base, **changes})  # type: ignore[arg-type]


def test_classes() -> None:
    general = classify(facts(), POLICY)
    assert (general.klass, general.expires) == ("general", date(2027, 2, 28))  # 11-30 + 3 → 02-28
    assert classify(facts(recorded_on=None), POLICY).expires == date(2027, 2, 28)  # ingest date
    # the later of recorded and ingested: a camera clock in 2010 cannot shorten retention …
    assert classify(facts(recorded_on=date(2010, 1, 1)), POLICY).expires == date(2027, 2, 28)
    # … and one in the future only lengthens it
    assert classify(facts(recorded_on=date(2026, 12, 20)), POLICY).expires == date(2027, 3, 20)
    # a label dated before ingest (it cannot be, but a bad clock could say so) counts from ingest
    old_label = classify(facts(case_number="A", labelled_on=date(2026, 1, 1)), POLICY)
    assert old_label.expires == date(2027, 5, 30)  # 6 months of litigation from the ingest
    case = classify(facts(case_number="A-1", labelled_on=date(2026, 12, 15)), POLICY)
    assert (case.klass, case.expires) == ("case", date(2027, 6, 15))  # litigation period longer
    evidence = classify(facts(case_number="A-1", evidence=True), POLICY)
    assert (evidence.klass, evidence.expires) == ("evidence", None)
    dispute = classify(facts(category="assault"), POLICY)
    assert (dispute.klass, dispute.expires) == ("long_term", None)
    six = classify(facts(), Policy(general_months=6))
    assert six.expires == date(2027, 5, 30)


def test_sweep_holds_and_reclassification() -> None:
    clips = [facts(clip_id="g"), facts(clip_id="h", holds=("诉讼保全",)),
             facts(clip_id="e", evidence=True),
             facts(clip_id="k", case_number="A", labelled_on=date(2027, 1, 10))]
    assert [r.clip_id for r in sweep(clips, POLICY, date(2027, 2, 27))] == []
    assert [r.clip_id for r in sweep(clips, POLICY, date(2027, 2, 28))] == ["g"]  # expiry day
    assert [r.clip_id for r in sweep(clips, POLICY, date(2027, 7, 10))] == ["g", "k"]
    # labelling as a dispute moves it out of any sweep
    assert sweep([facts(clip_id="g", category="dispute")], POLICY, date(2030, 1, 1)) == []


def test_deletion_refusals() -> None:
    expired = classify(facts(), POLICY)
    today = date(2027, 6, 1)
    assert deletion_refusal(expired, today, requested_by="li", approver="wang") is None
    same = deletion_refusal(expired, today, requested_by="li", approver="li")
    assert "other than the requester" in str(same)
    assert "request it first" in str(deletion_refusal(expired, today, requested_by=None, approver="wang"))
    inside = deletion_refusal(expired, date(2027, 2, 27), requested_by="li", approver="wang")
    assert inside and "R11" in inside and "2027-02-28" in inside
    held = classify(facts(holds=("x",)), POLICY)
    assert "legal hold" in str(deletion_refusal(held, today, requested_by="li", approver="wang"))
    evidence = classify(facts(evidence=True), POLICY)
    assert "never expires" in str(deletion_refusal(evidence, today, requested_by="li", approver="wang"))
    flagged = classify(facts(time_flags=("clock_drift",)), POLICY)
    assert "unresolved time flags" in str(deletion_refusal(flagged, today, requested_by="li",
                                                           approver="wang"))
    assert "only an admin" in str(deletion_refusal(expired, today, requested_by="li", approver="wang",
                                                   approver_is_admin=False))
