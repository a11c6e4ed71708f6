"""Address outgoing mail: the reply address, and the reply and form tokens a message carries."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from innspill.config.settings import Settings
from innspill.models import TokenPurpose
from innspill.planning.actions import Action, ActionKind
from innspill.process.definition import ProcessDefinition
from innspill.tokens import TokenKey, issue, issue_many


@dataclass(frozen=True)
class Outgoing:
    """How outgoing mail is addressed: the reply address, and the key and site for tokens.

    With a secret, every message about a request step carries the participant's reply token
    (as LOCAL+TOKEN@domain and `[ref:TOKEN]` in the subject), and with a public URL also the
    link to the web answer form.
    """

    reply_to: str | None = None
    secret: str | None = None
    public_url: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Outgoing:
        """Reply-To, token key and form site as configured."""
        return cls(settings.reply_to, settings.resolved_secret_key(), settings.public_url)


REQUEST_KINDS = {
    ActionKind.INVITATION,
    ActionKind.REMINDER,
    ActionKind.OVERDUE,
    ActionKind.DEADLINE_CHANGED,
}


def plus_address(address: str, token: str) -> str:
    """`local+token@domain`: replies carry the token in their recipient address."""
    local, _, domain = address.partition("@")
    return f"{local.split('+', 1)[0]}+{token}@{domain}"


def addressed(
    session: Session,
    definition: ProcessDefinition,
    action: Action,
    *,
    now: datetime,
    outgoing: Outgoing,
    tokens: Mapping[TokenKey, str],
) -> tuple[str, str, str | None]:
    """The reply address, the subject suffix and the form link for a request-step message."""
    reply = outgoing.reply_to or str(definition.sender.email)
    if not outgoing.secret:
        return reply, "", None

    def token(purpose: TokenPurpose) -> str:
        issued = tokens.get((action.step_id, action.participant_id, purpose))
        if issued is not None:
            return issued
        return issue(
            session,
            definition,
            step_id=action.step_id,
            participant_id=action.participant_id,
            purpose=purpose,
            secret=outgoing.secret or "",
            now=now,
        )

    address, suffix = reply, ""
    # A reply to a receipt ("takk!") must not become a new version of the answer: receipts
    # carry no reply token, so such replies land in the holding queue.
    if action.kind != ActionKind.RECEIPT:
        # An invitation in several parts has one reply address for all of them; what the
        # reply says tells the part (innspill.inbound.placing).
        reply_token = token(TokenPurpose.PARTS if action.carries else TokenPurpose.REPLY)
        address, suffix = plus_address(reply, reply_token), f" [ref:{reply_token}]"
    url = None
    if outgoing.public_url:
        url = f"{outgoing.public_url.rstrip('/')}/svar/{token(TokenPurpose.FORM)}"
    return address, suffix, url


def _purposes(action: Action, outgoing: Outgoing) -> list[TokenPurpose]:
    """The tokens a message carries (what addressed() asks for)."""
    if not outgoing.secret or not action.sends:
        return []
    if action.kind not in REQUEST_KINDS and action.kind != ActionKind.RECEIPT:
        return []
    purposes = [] if action.kind == ActionKind.RECEIPT else [TokenPurpose.REPLY]
    if action.carries:
        purposes = [TokenPurpose.PARTS]
    if outgoing.public_url:
        purposes.append(TokenPurpose.FORM)
    return purposes


def issue_tokens(
    session: Session,
    definition: ProcessDefinition,
    actions: Iterable[Action],
    *,
    now: datetime,
    outgoing: Outgoing,
) -> dict[TokenKey, str]:
    """Every token the actions' messages carry, recorded in bulk; pass them on to compose()."""
    keys = [
        (action.step_id, action.participant_id, purpose)
        for action in actions
        for purpose in _purposes(action, outgoing)
    ]
    if not keys:
        return {}
    return issue_many(session, definition, keys, secret=outgoing.secret or "", now=now)
