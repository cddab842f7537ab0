"""Parsing of --time and --freq specs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from specblur.edit.region import parse_freq, parse_time
from specblur.errors import UsageError


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("1.0-2.0", (1.0, 2.0)),
        ("1:02-1:04.5", (62.0, 64.5)),
        ("0:00.5-1", (0.5, 1.0)),
        ("1:00:00-1:00:01", (3600.0, 3601.0)),
        ("-2.5", (None, 2.5)),
        ("1.0-", (1.0, None)),
        (" .5 - 1.25 ", (0.5, 1.25)),
    ],
)
def test_time_specs(spec: str, expected: tuple) -> None:
    assert parse_time(spec) == expected


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("200-2000", (200.0, 2000.0)),
        ("200-2k", (200.0, 2000.0)),
        ("1k-", (1000.0, None)),
        ("-500", (None, 500.0)),
        ("1.5kHz-3K", (1500.0, 3000.0)),
        ("300Hz-400hz", (300.0, 400.0)),
    ],
)
def test_freq_specs(spec: str, expected: tuple) -> None:
    assert parse_freq(spec) == expected


@pytest.mark.parametrize("spec", ["", "-", "2-1", "1-1", "a-b", "1-2-3", "1:75-2", "1..2-3", "1e3-2e3", "nan-1"])
def test_bad_time_specs_say_what_works(spec: str) -> None:
    with pytest.raises(UsageError, match="--time") as info:
        parse_time(spec)
    assert "e.g." in str(info.value)


@pytest.mark.parametrize("spec", ["", "-", "2k-1k", "x-1", "200-2m", "inf-"])
def test_bad_freq_specs_say_what_works(spec: str) -> None:
    with pytest.raises(UsageError, match="--freq") as info:
        parse_freq(spec)
    assert "e.g." in str(info.value)


@given(st.text(max_size=12))
def test_any_text_parses_or_is_a_usage_error(spec: str) -> None:
    for parse in (parse_time, parse_freq):
        try:
            low, high = parse(spec)
        except UsageError:
            continue
        assert low is not None or high is not None
        if low is not None and high is not None:
            assert high > low >= 0


@given(st.floats(0, 1e5, allow_nan=False), st.floats(0.001, 1e3, allow_nan=False))
def test_round_trip_of_numbers(start: float, length: float) -> None:
    start, end = round(start, 3), round(start + length, 3)
    if end > start:
        assert parse_time(f"{start}-{end}") == (start, end)
