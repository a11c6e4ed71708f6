"""One invitation for the steps that open together: group the invitations the planner made.

The planner still makes one invitation action per request step and participant, each with its
own natural key, so exactly-once, reminders and deadlines stay per step. Here the invitations
to one participant that are sent in the same tick, of request steps that open on the same
(working) day, are grouped: the first step's invitation (in the order of the process file)
carries the others, which follow it directly in the list. The engine records a group in one
transaction: the carrier as the message that is sent, each carried one as an outbox row of
status `combined` that points to it.
"""

from __future__ import annotations

from dataclasses import replace

from innspill.planning.actions import Action, ActionKind
from innspill.planning.due import first_working_day
from innspill.process.definition import ProcessDefinition, RequestStep


def opening_group(definition: ProcessDefinition, step_ids: set[str]) -> set[str]:
    """These steps and every request step that opens on the same day as one of them."""
    days = {
        first_working_day(s.opens)
        for s in definition.steps
        if isinstance(s, RequestStep) and s.id in step_ids
    }
    return step_ids | {
        s.id
        for s in definition.steps
        if isinstance(s, RequestStep) and first_working_day(s.opens) in days
    }


def combine_invitations(definition: ProcessDefinition, actions: list[Action]) -> list[Action]:
    """The actions with the invitations of each participant's opening day grouped (see above)."""
    opens = {
        s.id: first_working_day(s.opens) for s in definition.steps if isinstance(s, RequestStep)
    }
    groups: dict[tuple[str, object], list[Action]] = {}
    for action in actions:
        if action.kind == ActionKind.INVITATION and action.sends:
            groups.setdefault((action.participant_id, opens[action.step_id]), []).append(action)
    carried: dict[str, Action] = {}  # key of a carried invitation -> its carrier
    carriers: dict[str, tuple[Action, list[Action]]] = {}
    for group in groups.values():
        if len(group) < 2:
            continue
        first, rest = group[0], group[1:]
        carrier = replace(first, carries=tuple(rest))
        parts = [replace(a, carrier=carrier) for a in rest]
        carriers[first.key] = (carrier, parts)
        for a in rest:
            carried[a.key] = carrier
    if not carriers:
        return actions
    out: list[Action] = []
    for action in actions:
        if action.key in carried:
            continue  # placed right after its carrier
        if action.key in carriers:
            carrier, parts = carriers[action.key]
            out += [carrier, *parts]
        else:
            out.append(action)
    return out
