"""The process page's participants by role (secretariats, steering groups, ...): one table
each, with only the steps any of that role's participants is in, so each table stays narrow."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from innspill.dashboard.labels import ROLE_GROUPS

if TYPE_CHECKING:  # progress builds the rows and calls by_role
    from innspill.dashboard.pages.progress import MatrixRow, TimelineEntry


@dataclass
class RoleGroup:
    """The participants of one role, and only the steps any of them is in."""

    role: str
    title: str
    steps: list[TimelineEntry]
    rows: list[MatrixRow]


def by_role(timeline: list[TimelineEntry], rows: list[MatrixRow]) -> list[RoleGroup]:
    """The matrix split by role, in the order the roles first appear in the process file."""
    out = []
    for role in dict.fromkeys(r.role for r in rows):
        members = [r for r in rows if r.role == role]
        keep = [i for i in range(len(timeline)) if any(r.cells[i].applies for r in members)]
        narrowed = [replace(r, cells=[r.cells[i] for i in keep]) for r in members]
        title = ROLE_GROUPS.get(role, role)
        out.append(RoleGroup(role, title, [timeline[i] for i in keep], narrowed))
    return out
