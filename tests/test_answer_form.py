"""The participants' answer form (/svar/{token}) over HTTP: what a token opens and nothing else,
no writes on GET, CSRF on POST, versions, files, the deadline, escaping, and accessibility basics.
Pages are read with html.parser, never by matching markup."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable, Iterator
from datetime import date, datetime
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, SQLModel, col, select

from innspill.config.settings import Settings
from innspill.dashboard.answer import upload as answer_upload
from innspill.dashboard.app import create_app
from innspill.dashboard.deps import get_now
from innspill.documents.files import PDF
from innspill.documents.store import compilation_input
from innspill.inbound.answers import MAX_FILES, register_answer
from innspill.models import Answer, AnswerAttachment, TokenPurpose
from innspill.models.db import make_engine, session_scope
from innspill.outbound.compose import message_context
from innspill.outbound.templates import render
from innspill.planning.actions import Action, ActionKind
from innspill.process.deadlines import closes_on
from innspill.process.definition import ProcessDefinition, RequestStep
from innspill.process.loading import get_definition
from innspill.tokens import issue
from tests.conftest import (
    SEED,
    SEED_ID,
    TEST_DATABASE,
    copy_seed_files,
    load_seed,
    new_database,
    oslo,
)
from tests.hostile_corpus import zip_bomb

STEP = "innspill-retningslinjer"  # deadline Monday 1 June 2020; the process ends 30 June
OPEN = oslo(2020, 5, 4, 10)
# The deadline is written as Monday 1 June 2020, Whit Monday: it runs to Tuesday 2 June.
LAST_MINUTE = oslo(2020, 6, 2, 23, 59)
CLOSED = oslo(2020, 6, 3, 0, 0)  # past the deadline: late answers until the step closes
EXPIRED = oslo(2020, 7, 1, 9)
THEMES = ["rolle", "kommunikasjon", "okonomi", "organisering"]
PDF_BYTES = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
XSS = "<script>alert(1)</script>"
CONTACT = ("mailto:byvekst-innspill@vegvesen.example", "byvekst-innspill@vegvesen.example")


# --- reading pages --------------------------------------------------------------------------


class FormPage(HTMLParser):
    """What the form page offers: fields, labels, texts in fields and blocks, alerts, ids."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.lang: str | None = None
        self.ids: set[str] = set()
        self.fields: list[dict[str, str | None]] = []
        self.values: dict[str, str] = {}  # textarea id -> its text
        self.labels: dict[str, str] = {}
        self.readonly: list[str] = []
        self.alerts: list[str] = []
        self.statuses: list[str] = []
        self.links: list[tuple[str, str]] = []
        self.buttons: list[str] = []
        self.forms = 0
        self.scripts = 0
        self.h1 = ""
        self._text: list[str] = []
        self._open: list[tuple[str, dict[str, str | None], list[str]]] = []
        self.feed(html)
        self.close()

    @property
    def text(self) -> str:
        return " ".join("".join(self._text).split())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(str(a["id"]))
        if tag == "html":
            self.lang = a.get("lang")
        if tag == "script":
            self.scripts += 1
        if tag == "form":
            self.forms += 1
        if tag in ("input", "textarea", "select"):
            self.fields.append(a | {"tag": tag})
        kept = "answer-readonly" in (a.get("class") or "") or a.get("role") in ("alert", "status")
        if tag in ("textarea", "label", "a", "h1", "button") or (tag == "div" and kept):
            self._open.append((tag, a, []))
        elif tag == "div":
            self._open.append(("div-other", a, []))

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self._open) - 1, -1, -1):
            name = self._open[index][0]
            if name == tag or (tag == "div" and name == "div-other"):
                _, a, parts = self._open.pop(index)
                self._closed(name, a, "".join(parts))
                return

    def _closed(self, tag: str, a: dict[str, str | None], raw: str) -> None:
        text = " ".join(raw.split())
        if tag == "textarea":
            self.values[str(a.get("id"))] = raw[1:] if raw.startswith("\n") else raw
        elif tag == "label":
            self.labels[str(a.get("for"))] = text
        elif tag == "a":
            self.links.append((str(a.get("href")), text))
        elif tag == "h1":
            self.h1 = text
        elif tag == "button":
            self.buttons.append(text)
        elif tag == "div" and a.get("role") == "alert":
            self.alerts.append(text)
        elif tag == "div" and a.get("role") == "status":
            self.statuses.append(text)
        elif tag == "div" and "answer-readonly" in (a.get("class") or ""):
            self.readonly.append(raw)

    def handle_data(self, data: str) -> None:
        self._text.append(data)
        for _, _, parts in self._open:
            parts.append(data)

    def field(self, name: str) -> dict[str, str | None]:
        return next(f for f in self.fields if f.get("name") == name)


# --- the database, the app, tokens ----------------------------------------------------------


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    tmp = tmp_path_factory.mktemp("answer-form")
    url, drop = new_database(TEST_DATABASE, tmp)
    engine = make_engine(url)
    load_seed(engine)
    engine.dispose()
    yield url, tmp
    drop()


@pytest.fixture(scope="module")
def app(database: tuple[str, Path]) -> FastAPI:
    url, tmp = database
    settings = Settings(data_dir=tmp / "data", database_url=url, _env_file=None)  # type: ignore[call-arg]
    application = create_app(settings)
    application.dependency_overrides[get_now] = lambda: OPEN
    return application


@pytest.fixture(scope="module")
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture
def at(app: FastAPI) -> Iterator[Callable[[datetime], None]]:
    """Set the app's clock for one test: `at(instant)`."""

    def set_clock(instant: datetime) -> None:
        app.dependency_overrides[get_now] = lambda: instant

    yield set_clock
    app.dependency_overrides[get_now] = lambda: OPEN


def token_for(
    app: FastAPI,
    participant: str,
    purpose: TokenPurpose = TokenPurpose.FORM,
    step: str = STEP,
    *,
    process: str = SEED_ID,
) -> str:
    with session_scope(app.state.engine) as session:
        definition = get_definition(session, process)
        return issue(
            session,
            definition,
            step_id=step,
            participant_id=participant,
            purpose=purpose,
            secret=app.state.settings.resolved_secret_key(),
            now=oslo(2020, 3, 30, 9),
        )


def answers(app: FastAPI, participant: str) -> list[Answer]:
    with Session(app.state.engine) as session:
        return list(
            session.exec(
                select(Answer)
                .where(
                    col(Answer.step_key) == STEP,
                    col(Answer.participant_key) == participant,
                )
                .order_by(col(Answer.version))
            ).all()
        )


def attachments(app: FastAPI, answer: Answer) -> list[AnswerAttachment]:
    with Session(app.state.engine) as session:
        return list(
            session.exec(
                select(AnswerAttachment).where(col(AnswerAttachment.answer_id) == answer.id)
            ).all()
        )


def row_counts(app: FastAPI) -> dict[str, int]:
    with app.state.engine.connect() as conn:
        return {
            table.name: int(conn.execute(sa_select(func.count()).select_from(table)).scalar_one())
            for table in SQLModel.metadata.sorted_tables
        }


def get(client: TestClient, token: str, query: str = "", status: int = 200) -> FormPage:
    response = client.get(f"/svar/{token}{query}")
    assert response.status_code == status, response.text[:500]
    return FormPage(response.text)


def csrf(client: TestClient, token: str) -> str:
    return str(get(client, token).field("csrf_token")["value"])


def post(
    client: TestClient,
    token: str,
    texts: dict[str, str] | None = None,
    *,
    csrf_token: str | None = "auto",
    files: list[tuple[str, bytes]] | None = None,
    extra: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    query: str = "",
) -> httpx.Response:
    data: dict[str, str | list[str]] = {
        f"tema-{k}": v for k, v in (texts or {"rolle": "Et innspill."}).items()
    }
    if csrf_token == "auto":
        csrf_token = csrf(client, token)
    if csrf_token is not None:
        data["csrf_token"] = csrf_token
    data |= extra or {}
    upload = [("filer", (name, body, "application/octet-stream")) for name, body in files or []]
    return client.post(
        f"/svar/{token}{query}",
        data=data,
        files=upload or None,
        headers=headers,
        follow_redirects=False,
    )


# --- what a token opens ---------------------------------------------------------------------


def test_the_page_shows_the_participants_own_answer_form(app: FastAPI, client: TestClient) -> None:
    token = token_for(app, "oslo-akershus-sekretariat")
    response = client.get(f"/svar/{token}")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.headers.get_list("referrer-policy") == ["no-referrer"]
    assert "set-cookie" not in response.headers  # no session for participants
    page = FormPage(response.text)
    assert page.lang == "nb"
    assert page.h1 == "Innspill til retningslinjer for sekretariatene"
    assert "Sekretariatet for byvekstavtalen i Oslo og Akershus" in page.text
    assert "Bergen" not in page.text
    assert "Innspill til retningslinjer for sekretariatene for byvekstavtalene" in page.text
    assert "20/64758" in page.text
    # 1 June, Whit Monday, runs to Tuesday 2 June: the form says the day and why
    assert "Fristtirsdag 2. juni 2020" in page.text  # the term, then its value
    assert (
        "Fristen var satt til 1. juni 2020, men det er andre pinsedag, og da forlenges "
        "fristen til neste arbeidsdag."
    ) in page.text
    assert "Ikke sendt ennå" in page.text
    assert page.buttons == ["Send innspill"]
    assert page.scripts == 0
    # One labelled textarea per theme, the guiding questions linked as hints.
    areas = [f for f in page.fields if f["tag"] == "textarea"]
    assert [f["name"] for f in areas] == [f"tema-{t}" for t in THEMES]
    assert page.labels["tema-rolle"] == "Funksjon, rolle og ansvar"
    for field in page.fields:
        if field["tag"] == "textarea" or field.get("type") in ("file", "checkbox"):
            assert field.get("id") in page.labels, field
        for target in (field.get("aria-describedby") or "").split():
            assert target in page.ids, (field, target)
    assert all(f.get("aria-describedby") for f in areas)
    upload = page.field("filer")
    assert (upload["type"], upload["accept"]) == ("file", ".pdf,.docx,.odt")
    assert "multiple" in upload


def test_opening_the_link_writes_nothing(
    app: FastAPI, client: TestClient, at: Callable[[datetime], None]
) -> None:
    token = token_for(app, "trondheim-sekretariat")
    before = row_counts(app)
    get(client, token)
    get(client, token, "?lagret=1")
    get(client, "a" * 32, status=404)
    at(CLOSED)
    get(client, token)
    at(EXPIRED)
    get(client, token, status=403)
    assert row_counts(app) == before


@pytest.mark.parametrize(
    "bad", ["abc", "A" * 32, "a" * 33, "a" * 31 + "1", "a" * 32, "%3Cscript%3E", "a" * 5000]
)
def test_a_wrong_token_gives_a_plain_404(client: TestClient, bad: str) -> None:
    for response in (client.get(f"/svar/{bad}"), client.post(f"/svar/{bad}", data={})):
        assert response.status_code == 404
        page = FormPage(response.text)
        assert page.h1 == "Lenken er ugyldig"
        assert page.lang == "nb"
        assert "Traceback" not in response.text
        assert response.headers["cache-control"] == "no-store"


def test_a_reply_token_or_a_token_for_another_step_opens_no_form(
    app: FastAPI, client: TestClient
) -> None:
    reply = token_for(app, "oslo-akershus-sekretariat", TokenPurpose.REPLY)
    assert get(client, reply, status=404).h1 == "Lenken er ugyldig"
    other_step = token_for(app, "oslo-akershus-sekretariat", step="innspill-oppdrag")
    page = get(client, other_step)
    assert page.h1 == "Innspill til oppdraget"
    assert "mandag 27. april 2020" in page.text


def test_an_expired_token_gives_403(
    app: FastAPI, client: TestClient, at: Callable[[datetime], None]
) -> None:
    token = token_for(app, "nord-jaeren-sekretariat")
    at(EXPIRED)
    for response in (client.get(f"/svar/{token}"), client.post(f"/svar/{token}", data={})):
        assert response.status_code == 403
        page = FormPage(response.text)
        assert page.h1 == "Lenken er utløpt"
        assert "Traceback" not in response.text
        assert CONTACT in page.links
    assert answers(app, "nord-jaeren-sekretariat") == []


def test_only_the_dashboard_asks_for_sign_in(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/login")


# --- saving ---------------------------------------------------------------------------------


def test_post_without_or_with_a_wrong_csrf_token_is_refused(
    app: FastAPI, client: TestClient
) -> None:
    token = token_for(app, "nord-jaeren-sekretariat")
    others = token_for(app, "kristiansand-sekretariat")
    for value in (None, "", "0" * 64, csrf(client, others)):
        response = post(client, token, csrf_token=value)
        assert response.status_code == 403, value
        assert "Traceback" not in response.text
    foreign = post(client, token, headers={"origin": "https://angriper.example"})
    assert foreign.status_code == 403
    referred = post(client, token, headers={"referer": "https://angriper.example/side"})
    assert referred.status_code == 403
    assert answers(app, "nord-jaeren-sekretariat") == []


def test_saving_makes_versions_and_the_latest_is_shown(app: FastAPI, client: TestClient) -> None:
    token = token_for(app, "buskerudbyen-sekretariat")
    # A browser posting from a no-referrer page sends Origin: null; the CSRF token decides.
    first = post(
        client, token, {"rolle": "Første utkast.", "okonomi": ""}, headers={"origin": "null"}
    )
    assert first.status_code == 303
    assert first.headers["location"] == f"/svar/{token}?lagret=1"
    assert first.headers["referrer-policy"] == "no-referrer"
    saved = get(client, token, "?lagret=1")
    assert saved.statuses == ["Innspillet er mottatt. Dere får en kvittering på e-post."]
    assert saved.buttons == ["Lagre endringer"]
    assert saved.values["tema-rolle"] == "Første utkast."

    second = post(
        client,
        token,
        {"rolle": "Andre utkast.\nMed to linjer.", "organisering": "Ny tekst."},
        headers={"origin": "http://testserver"},
    )
    assert second.status_code == 303
    rows = answers(app, "buskerudbyen-sekretariat")
    assert [(a.version, a.channel, a.registered_by) for a in rows] == [
        (1, "form", "nettskjema"),
        (2, "form", "nettskjema"),
    ]
    assert json.loads(rows[0].text_json) == {"rolle": "Første utkast."}
    assert json.loads(rows[1].text_json) == {
        "rolle": "Andre utkast.\nMed to linjer.",
        "organisering": "Ny tekst.",
    }
    assert rows[1].received_at == OPEN
    page = get(client, token)
    assert page.values["tema-rolle"] == "Andre utkast.\nMed to linjer."
    assert page.values["tema-okonomi"] == ""
    assert "versjon 2" in page.text
    assert page.statuses == []  # no confirmation without ?lagret=1


def test_a_token_cannot_read_or_change_another_participants_answer(
    app: FastAPI, client: TestClient
) -> None:
    mine, theirs = "grenland-sekretariat", "nedre-glomma-sekretariat"
    with session_scope(app.state.engine) as session:
        register_answer(
            session,
            get_definition(session, SEED_ID),
            step_id=STEP,
            participant_id=theirs,
            texts={"rolle": "Hemmelig fra Nedre Glomma."},
            at=oslo(2020, 4, 30, 12),
        )
    token = token_for(app, mine)
    extra = {"participant": theirs, "participant_id": theirs, "step": "innspill-oppdrag"}
    page = get(client, token, f"?participant={theirs}&participant_id={theirs}")
    assert "Grenland" in page.text
    assert "Nedre Glomma" not in page.text
    assert page.values["tema-rolle"] == ""
    response = post(
        client, token, {"rolle": "Fra Grenland."}, extra=extra, query=f"?participant={theirs}"
    )
    assert response.status_code == 303
    assert [json.loads(a.text_json) for a in answers(app, theirs)] == [
        {"rolle": "Hemmelig fra Nedre Glomma."}
    ]
    assert [json.loads(a.text_json) for a in answers(app, mine)] == [{"rolle": "Fra Grenland."}]


def test_an_empty_answer_is_shown_again_with_an_error(app: FastAPI, client: TestClient) -> None:
    token = token_for(app, "tromso-sekretariat")
    response = post(client, token, {"rolle": "   ", "kommunikasjon": "\n"})
    assert response.status_code == 400
    page = FormPage(response.text)
    assert len(page.alerts) == 1 and "minst ett av feltene" in page.alerts[0]
    targets = [href[1:] for href, _ in page.links if href.startswith("#tema-")]
    assert targets == ["tema-rolle"] and "tema-rolle" in page.ids
    rolle = next(f for f in page.fields if f.get("id") == "tema-rolle")
    assert rolle["aria-invalid"] == "true"
    assert all(t in page.ids for t in str(rolle["aria-describedby"]).split())
    assert page.values["tema-kommunikasjon"] == "\n"
    assert answers(app, "tromso-sekretariat") == []


def test_files_are_kept_and_a_false_file_is_refused(app: FastAPI, client: TestClient) -> None:
    participant = "kristiansand-sekretariat"
    token = token_for(app, participant)
    before = row_counts(app)
    refused = post(
        client,
        token,
        {"rolle": "Med vedlegg.", "okonomi": "Tekst som skal bli stående."},
        files=[("notat.pdf", PDF_BYTES), ("notat.docx", b"bare tekst, ikke Word")],
    )
    assert refused.status_code == 400
    page = FormPage(refused.text)
    assert any("«notat.docx»" in alert for alert in page.alerts)
    assert any(href == "#filer" for href, _ in page.links) and "filer" in page.ids
    assert page.values["tema-okonomi"] == "Tekst som skal bli stående."
    assert row_counts(app) == before  # all or nothing: not even the PDF

    saved = post(client, token, {"rolle": "Med vedlegg."}, files=[("notat.pdf", PDF_BYTES)])
    assert saved.status_code == 303
    (first,) = answers(app, participant)
    (pdf,) = attachments(app, first)
    assert (pdf.filename, pdf.content_type, pdf.size, pdf.data) == (
        "notat.pdf",
        PDF,
        len(PDF_BYTES),
        PDF_BYTES,
    )
    page = get(client, token)
    assert "notat.pdf" in page.text
    # Editing the text keeps the file with the new version; ticking "Fjern" drops it.
    assert post(client, token, {"rolle": "Endret tekst."}).status_code == 303
    second = answers(app, participant)[-1]
    assert [a.filename for a in attachments(app, second)] == ["notat.pdf"]
    removal = str(next(f for f in get(client, token).fields if f.get("name") == "fjern")["value"])
    response = post(client, token, {"rolle": "Uten vedlegg."}, extra={"fjern": removal})
    assert response.status_code == 303
    assert attachments(app, answers(app, participant)[-1]) == []
    assert len(attachments(app, first)) == 1  # older versions keep theirs


def test_a_zip_bomb_named_docx_is_refused_with_the_reason(app: FastAPI, client: TestClient) -> None:
    participant = "tromso-sekretariat"
    token = token_for(app, participant)
    before = row_counts(app)
    refused = post(client, token, files=[("svar.docx", zip_bomb(total_mb=101))])
    assert refused.status_code == 400
    alerts = FormPage(refused.text).alerts
    assert any("«svar.docx» pakker seg ut til altfor mye data" in a for a in alerts), alerts
    assert row_counts(app) == before
    assert answers(app, participant) == []


def test_too_many_files_and_too_large_a_body_are_refused(
    app: FastAPI, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    participant = "nord-jaeren-sekretariat"
    token = token_for(app, participant)
    many = [(f"vedlegg-{n}.pdf", PDF_BYTES) for n in range(MAX_FILES + 1)]
    response = post(client, token, files=many)
    assert response.status_code == 400
    assert any(f"høyst {MAX_FILES} filer" in a for a in FormPage(response.text).alerts)
    monkeypatch.setattr(answer_upload, "MAX_BODY_BYTES", 2000)
    large = post(client, token, files=[("stor.pdf", PDF_BYTES + b"0" * 3000)])
    assert large.status_code == 413
    assert FormPage(large.text).h1 == "Innspillet er for stort"
    assert answers(app, participant) == []


# --- the deadline ---------------------------------------------------------------------------


def test_after_the_deadline_a_late_answer_is_taken_and_marked_late(
    app: FastAPI, client: TestClient, at: Callable[[datetime], None]
) -> None:
    participant = "trondheim-sekretariat"
    token = token_for(app, participant)
    at(LAST_MINUTE)
    saved = post(client, token, {"rolle": XSS, "organisering": "Linje 1\n  Linje 2"})
    assert saved.status_code == 303
    page = get(client, token)
    assert page.forms == 1
    assert "etter-fristen" not in page.ids  # on the deadline day the answer is not late
    # While open, the markup comes back as the text of the field, not as a script.
    assert page.values["tema-rolle"] == XSS
    assert page.scripts == 0

    # The day after the deadline the form still takes the answer, and says it is late and
    # until when (the step has no `closes`: the day the compilation is made, 3 June).
    at(CLOSED)
    page = get(client, token)
    assert page.forms == 1
    assert "etter-fristen" in page.ids
    assert "Fristen er ute, men dere kan fortsatt sende innspill." in page.text
    assert "Skjemaet er åpent til og med onsdag 3. juni 2020." in page.text
    late = post(client, token, {"rolle": "Endret etter fristen."})
    assert late.status_code == 303
    versions = answers(app, participant)
    assert [a.version for a in versions] == [1, 2]
    assert json.loads(versions[-1].text_json)["rolle"] == "Endret etter fristen."
    # The compilation calls the answer late: it came after the participant's deadline.
    with Session(app.state.engine) as session:
        definition = get_definition(session, SEED_ID)
        compilation = definition.step("sammenstilling")  # of innspill-retningslinjer
        data = compilation_input(
            session, definition, compilation, now=oslo(2020, 6, 3, 9), version=1
        )  # type: ignore[arg-type]
    mine = next(a for a in data.answers if a.participant_id == participant)
    assert mine.late and mine.version == 2


def test_after_the_step_closes_the_answer_is_read_only(
    app: FastAPI, client: TestClient, at: Callable[[datetime], None], tmp_path: Path
) -> None:
    # The same round with `closes = 2020-06-12` on the request step, as another process.
    source = SEED.read_text(encoding="utf-8")
    source = source.replace(f'id = "{SEED_ID}"', 'id = "closes-2020"', 1)
    source = source.replace(
        "deadline = 2020-06-01\n", "deadline = 2020-06-01\ncloses = 2020-06-12\n"
    )
    assert "closes = 2020-06-12" in source
    # Kristiansand writes nynorsk in this copy: the late notice speaks to them in it.
    source = source.replace(
        'id = "kristiansand-sekretariat"\n', 'id = "kristiansand-sekretariat"\nlanguage = "nn"\n', 1
    )
    path = tmp_path / "closes.toml"
    path.write_text(source, encoding="utf-8")
    copy_seed_files(tmp_path)
    load_seed(app.state.engine, path)
    participant = "nord-jaeren-sekretariat"
    token = token_for(app, participant, process="closes-2020")

    at(oslo(2020, 6, 12, 23, 59))  # the last minute of the closing day: still open, late
    page = get(client, token)
    assert "etter-fristen" in page.ids
    assert "fredag 12. juni 2020" in page.text
    assert (
        post(client, token, {"rolle": XSS, "organisering": "Linje 1\n  Linje 2"}).status_code == 303
    )
    token_csrf = csrf(client, token)
    nynorsk = get(client, token_for(app, "kristiansand-sekretariat", process="closes-2020"))
    assert nynorsk.lang == "nn" and "etter-fristen" in nynorsk.ids
    assert "Fristen er ute, men de kan framleis sende innspel." in nynorsk.text
    assert "Skjemaet er ope til og med fredag 12. juni 2020." in nynorsk.text

    at(oslo(2020, 6, 13, 0, 0))
    page = get(client, token)
    assert page.forms == 0
    assert not [f for f in page.fields if f["tag"] == "textarea"]
    assert page.readonly == [XSS, "Linje 1\n  Linje 2"]
    assert page.scripts == 0
    assert "Skjemaet er stengt." in page.text
    assert "Fristen er ute, men" not in page.text
    assert "tirsdag 2. juni 2020" in page.text and "fredag 12. juni 2020" in page.text
    assert "Kari Nordmann" in page.text
    assert CONTACT in page.links
    # A form still open in a browser since before the step closed is refused.
    refused = post(client, token, {"rolle": "For sent."}, csrf_token=token_csrf)
    assert refused.status_code == 403
    assert FormPage(refused.text).forms == 0
    assert "Skjemaet er stengt: innspillet ble ikke lagret." in FormPage(refused.text).alerts
    with Session(app.state.engine) as session:
        kept = session.exec(
            select(Answer).where(
                col(Answer.process_id) == "closes-2020",
                col(Answer.participant_key) == participant,
            )
        ).all()
    assert len(kept) == 1


def test_closes_before_the_deadline_is_refused() -> None:
    source = SEED.read_text(encoding="utf-8")
    source = source.replace(
        "deadline = 2020-06-01\n", "deadline = 2020-06-01\ncloses = 2020-05-29\n"
    )
    with pytest.raises(ValueError, match="closes 2020-05-29 is before deadline 2020-06-01"):
        ProcessDefinition.model_validate(tomllib.loads(source))


@pytest.mark.parametrize(
    ("language", "welcome"),
    [
        ("nb", "Vi tar fortsatt gjerne imot innspill fra dere til og med {closes};"),
        ("nn", "Vi tek framleis gjerne imot innspel frå dykk til og med {closes};"),
    ],
)
def test_overdue_reminders_welcome_a_late_answer_until_the_step_closes(
    language: str, welcome: str
) -> None:
    definition = ProcessDefinition.model_validate(tomllib.loads(SEED.read_text("utf-8")))
    step = definition.step(STEP)
    assert isinstance(step, RequestStep)
    who = definition.audience(STEP)[0]
    for closes, deadline, shown in [
        # by default the step closes the day the compilation is made: the first working day
        # after the deadline in effect (1 June, Whit Monday, runs to 2 June)
        (None, date(2020, 6, 2), "3. juni 2020"),
        (date(2020, 6, 12), date(2020, 6, 2), "12. juni 2020"),
        (date(2020, 6, 12), date(2020, 6, 19), "19. juni 2020"),  # extended past closes
    ]:
        edited = step.model_copy(update={"closes": closes})
        changed = definition.model_copy(
            update={"steps": [edited if s.id == STEP else s for s in definition.steps]}
        )
        action = Action(
            changed.id,
            STEP,
            who.id,
            ActionKind.OVERDUE,
            "1",
            deadline,
            overdue_number=1,
            closes=closes_on(changed, edited, deadline),
        )
        context = message_context(
            changed, action, now=oslo(2020, 6, 4, 9), reply_to=str(definition.sender.email)
        )
        rendered = render("overdue", language, context)
        assert welcome.format(closes=shown) in " ".join(rendered.text.split())
        assert welcome.format(closes=shown).replace(shown, f"<strong>{shown}</strong>") in (
            " ".join(rendered.html.split())
        )
