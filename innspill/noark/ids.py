"""systemIDs: UUIDs derived (uuid5) from natural keys, so exporting the same round twice gives
the same IDs, and two rounds of one creator never share one (Noark 5 v5.0, 6.4.26)."""

from __future__ import annotations

import uuid

#: The namespace of every systemID innspill writes (uuid5 of the project's URL name).
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:innspill:noark5")


def system_id(kind: str, *key: str | int) -> str:
    """The systemID of the `kind` of entity (arkiv, journalpost, ...) with this natural key."""
    name = "\x1f".join([kind, *(str(part) for part in key)])
    return str(uuid.uuid5(NAMESPACE, name))
