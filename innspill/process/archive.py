"""The process file's `[archive]` section: whose journal the round's documents go in.

With it, every letter, answer and document of the round gets a journal entry and a document
number in the case (innspill.journal); without it the round keeps no journal numbers and its
letters carry the case number alone, as before.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

#: The weights of the mod-11 control digit of a Norwegian organisation number (Brønnøysund).
_WEIGHTS = (3, 2, 7, 6, 5, 4, 3, 2)


def organisation_number_problem(number: str) -> str | None:
    """Why `number` is not a valid organisation number (9 digits, mod-11 check), or None."""
    if len(number) != 9 or not number.isascii() or not number.isdigit():
        return f"'{number}' is not 9 digits: write the organisation number without spaces"
    remainder = sum(w * int(d) for w, d in zip(_WEIGHTS, number, strict=False)) % 11
    control = 0 if remainder == 0 else 11 - remainder
    if control == 10 or control != int(number[8]):
        return (
            f"{number} is not a valid organisation number: its control digit does not match "
            "(mod 11); look for a typo, or look the body up in Enhetsregisteret (brreg.no)"
        )
    return None


def _as_text(value: object) -> object:
    # TOML readers write `organisation_number = 971032081` as a number; both forms are taken.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class ArchiveSection(BaseModel):
    """The body that keeps the journal, its organisation number, the class code (arkivkode)
    of the case, and the first document number innspill may use in it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    creator: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")]
    organisation_number: Annotated[str, BeforeValidator(_as_text)]
    class_code: (
        Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[0-9A-Za-zÆØÅæøå .:/_-]+$")]
        | None
    ) = None
    # The documents before it are the body's own (the seed's letter of 30 March is 20/64758-5).
    first_document_number: Annotated[int, Field(ge=1, le=1_000_000)] = 1

    @field_validator("organisation_number")
    @classmethod
    def _valid_number(cls, value: str) -> str:
        problem = organisation_number_problem(value)
        if problem:
            raise ValueError(problem)
        return value
