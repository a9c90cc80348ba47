"""The DER function of the speaker benchmark (bench/der.py)."""

from __future__ import annotations

import pytest
from bench.der import der

REFERENCE = [("a", 0.0, 10.0), ("b", 10.0, 20.0)]


def test_a_perfect_hypothesis_scores_zero_whatever_its_labels() -> None:
    assert der(REFERENCE, [("x", 0.0, 10.0), ("y", 10.0, 20.0)]) == 0.0


def test_one_speaker_for_two_confuses_half_the_speech() -> None:
    assert der(REFERENCE, [("x", 0.0, 20.0)], collar=0.0) == pytest.approx(0.5)


def test_missed_speech_and_false_alarm_count() -> None:
    # b's turn missed entirely: half the reference speech
    assert der(REFERENCE, [("x", 0.0, 10.0)], collar=0.0) == pytest.approx(0.5)
    # extra speech after the end: 5 s of false alarm over 20 s of speech
    hypothesis = [("x", 0.0, 10.0), ("y", 10.0, 25.0)]
    assert der(REFERENCE, hypothesis, collar=0.0) == pytest.approx(0.25)


def test_the_collar_forgives_boundaries_only() -> None:
    shifted = [("x", 0.0, 10.2), ("y", 10.2, 20.0)]
    assert der(REFERENCE, shifted, collar=0.0) == pytest.approx(0.01, abs=1e-3)
    assert der(REFERENCE, shifted, collar=0.25) == 0.0


def test_mapping_is_one_to_one() -> None:
    # three hypothesis speakers for two: the extra one counts as confusion
    hypothesis = [("x", 0.0, 5.0), ("z", 5.0, 10.0), ("y", 10.0, 20.0)]
    assert der(REFERENCE, hypothesis, collar=0.0) == pytest.approx(0.25)
