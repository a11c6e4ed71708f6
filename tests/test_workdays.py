"""Norwegian working days, holidays and local times across DST."""

from datetime import UTC, date, datetime, time

import pytest

from innspill.process.workdays import (
    add_working_days,
    end_of_day,
    is_working_day,
    local_datetime,
    next_working_day,
    why_not_working_day,
)

HOLIDAYS_2020 = [
    date(2020, 4, 9),  # skjærtorsdag
    date(2020, 4, 10),  # langfredag
    date(2020, 4, 13),  # andre påskedag
    date(2020, 5, 1),  # arbeidernes dag
    date(2020, 5, 21),  # Kristi himmelfartsdag
    date(2020, 6, 1),  # andre pinsedag: the seed's own deadline
]


@pytest.mark.parametrize("day", HOLIDAYS_2020)
def test_public_holidays_2020_are_not_working_days(day):
    assert not is_working_day(day)
    assert "public holiday" in (why_not_working_day(day) or "")


def test_17_may_2020_was_a_sunday_and_not_a_working_day():
    assert not is_working_day(date(2020, 5, 17))


def test_ordinary_days():
    assert is_working_day(date(2020, 4, 27))
    assert why_not_working_day(date(2020, 4, 25)) == "Saturday"
    assert why_not_working_day(date(2020, 4, 26)) == "Sunday"


def test_counting_back_skips_easter():
    # Two working days before Tuesday 14 April 2020 are Monday 13 (holiday), Friday 10
    # (holiday), Thursday 9 (holiday): so Wednesday 8 and Tuesday 7 April.
    assert add_working_days(date(2020, 4, 14), -1) == date(2020, 4, 8)
    assert add_working_days(date(2020, 4, 14), -2) == date(2020, 4, 7)
    assert add_working_days(date(2020, 4, 8), 1) == date(2020, 4, 14)
    assert next_working_day(date(2020, 5, 30)) == date(2020, 6, 2)


def test_local_nine_oclock_across_dst():
    # DST began 29 March 2020 at 02:00: 09:00 in Oslo is 08:00 UTC before, 07:00 UTC after.
    assert local_datetime(date(2020, 3, 27), time(9)) == datetime(2020, 3, 27, 8, tzinfo=UTC)
    assert local_datetime(date(2020, 3, 30), time(9)) == datetime(2020, 3, 30, 7, tzinfo=UTC)
    assert end_of_day(date(2020, 3, 28)) == datetime(2020, 3, 28, 23, tzinfo=UTC)
    assert end_of_day(date(2020, 3, 29)) == datetime(2020, 3, 29, 22, tzinfo=UTC)
