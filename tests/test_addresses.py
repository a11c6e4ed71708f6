"""Addresses in process files: the fast path (a plain local part at a remembered domain) gives
exactly what pydantic's EmailStr gives, the same address or the same error, for addresses
plain and odd."""

from __future__ import annotations

import pytest
from pydantic_core import PydanticCustomError

from innspill.errors import DefinitionError
from innspill.process import addresses
from innspill.process.addresses import email_address, full_check
from innspill.process.definition import parse_definition
from tests.conftest import SEED

ADDRESSES = [
    "kari.nordmann@vegvesen.no",
    "Kari.Nordmann@Vegvesen.NO",  # the domain is lower-cased, the local part kept
    "sekretariat@bergen.byvekst.example",
    "a+tag@x.no",
    "{a}@x.no",
    "a/b@x.no",
    "=?utf-8?q?a?=@x.no",
    "a" * 64 + "@x.no",
    "a" * 65 + "@x.no",  # local part too long
    "a@" + "b" * 63 + ".no",
    "a@" + "b" * 64 + ".no",  # label too long
    "a" * 60 + "@" + ".".join(["b" * 60] * 3) + ".no",  # address too long
    "a@b",
    "a@b.c",
    "a@x",
    "kari@-x.no",
    "kari@x..no",
    "kari@localhost",
    "kari@x.test",
    "kari@x.invalid",
    "a@x.no.",
    "a@x_y.no",
    "a@1.2.3.4",
    "a@[1.2.3.4]",
    "Ola <ola@x.no>",
    " ola@x.no ",
    '"a b"@x.no',
    "a..b@x.no",
    ".a@x.no",
    "a.@x.no",
    "æøå@x.no",
    "a@æøå.no",
    "a@XN--5CA.no",
    "ＡＢＣ@x.no",
    "a@ｘ.no",
    "a@x.no\u200b",
    "a@x.no\r\n",
    "@x.no",
    "a@",
    "a@@x.no",
    "",
]


def outcome(check, value: str) -> object:  # type: ignore[no-untyped-def]
    try:
        return check(value)
    except PydanticCustomError as exc:
        return ("refused", exc.message())


@pytest.mark.parametrize("value", ADDRESSES)
def test_the_fast_path_answers_as_emailstr(value: str) -> None:
    assert outcome(email_address, value) == outcome(full_check, value)


def test_a_domain_is_checked_once_for_all_its_addresses() -> None:
    addresses._domain.cache_clear()
    for n in range(500):
        assert email_address(f"deltaker-{n}@kommune.example") == f"deltaker-{n}@kommune.example"
    info = addresses._domain.cache_info()
    assert (info.misses, info.hits) == (1, 499)


def test_a_process_file_reports_a_bad_address_by_its_field() -> None:
    text = SEED.read_text("utf-8").replace(
        'email = "sekretariat@bergen.byvekst.example"', 'email = "sekretariat@bergen..example"'
    )
    with pytest.raises(DefinitionError) as caught:
        parse_definition(text, file="p.toml")
    (problem,) = caught.value.problems
    assert problem.field == "participants[1].email"
    assert problem.message.startswith("value is not a valid email address:")
