"""`innspill cancel-meeting`: the command behind the dashboard's "Avlys møtet" (the same as
`cancelled = true` in the file and a load), refused with the reason where it cannot be."""

from __future__ import annotations

import json

from tests.conftest import SEED, SEED_ID, failed, ok


def test_cancel_a_meeting_from_the_command_line(cli) -> None:  # type: ignore[no-untyped-def]
    ok(cli("load", str(SEED), "--at", "2020-03-30T08:00"))
    assert "not a meeting" in failed(
        cli("cancel-meeting", SEED_ID, "sammenstilling", "--at", "2020-05-02T10:00")
    )
    assert "began 2020-06-09 09:00" in failed(
        cli("cancel-meeting", SEED_ID, "halvdagsmote", "--at", "2020-06-09T10:00")
    )
    out = ok(cli("cancel-meeting", SEED_ID, "halvdagsmote", "--at", "2020-05-02T10:00"))
    assert "halvdagsmote cancelled" in out
    assert "cancelled already" in failed(
        cli("cancel-meeting", SEED_ID, "halvdagsmote", "--at", "2020-05-03T10:00")
    )
    (status,) = json.loads(ok(cli("status", "--json", "--at", "2020-05-03T10:00")))
    meeting = next(s for s in status["steps"] if s["step"] == "halvdagsmote")
    assert (meeting["state"], meeting["note"]) == ("done", "cancelled")
    # after the process's last day: ended, and refused
    (later,) = json.loads(ok(cli("status", "--json", "--at", "2020-07-01T08:00")))
    assert later["ended"] is True and later["ends"] == "2020-06-30"
    assert "ended" in ok(cli("status", "--at", "2020-07-01T08:00"))
