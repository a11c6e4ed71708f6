"""Commands that run something long-lived: the demo, the Prefect deployment, the dashboard."""

from __future__ import annotations

import shlex
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from innspill.cli.common import app, fail, get_settings, open_engine, safe_url
from innspill.errors import InnspillError

#: The process the demo plays (config/processes/<id>.toml).
DEMO_PROCESS = "byvekstavtaler-sekretariat-2020"

if TYPE_CHECKING:
    from innspill.demo.folder import DemoFolder


@app.command()
def demo(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary as JSON only.")
    ] = False,
    prefect: Annotated[
        bool, typer.Option(help="Run through Prefect (a temporary local server starts).")
    ] = True,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="Keep the database, mail and compilation here. It must be new, empty or made "
            "by an earlier demo (whose files are replaced; others stay). Default: a temporary "
            "folder, removed at the end."
        ),
    ] = None,
) -> None:
    """Play the 2020 round (30 March to 30 June) on a simulated clock and show what happened."""
    from innspill.demo import folder as demo_folder
    from innspill.demo import run as scenario

    keep = data_dir is not None
    root = data_dir if data_dir is not None else Path(tempfile.mkdtemp(prefix="innspill-demo-"))
    try:
        try:
            where = demo_folder.prepare(root, secret=scenario.DEMO_SECRET)
        except InnspillError as exc:
            raise fail(str(exc)) from None
        closing = _play_demo(where, prefect=prefect, as_json=as_json, keep=keep)
    finally:
        if not keep:
            demo_folder.remove_temporary(root)
    for line in closing:
        typer.echo(line)


def _play_demo(where: DemoFolder, *, prefect: bool, as_json: bool, keep: bool) -> list[str]:
    """Run the round into WHERE, print the timeline and summary; return the closing lines."""
    from innspill.demo import run as scenario
    from innspill.models.db import make_engine, migrate
    from innspill.outbound.transport import CaptureTransport

    url = where.database_url

    def quiet(text: str) -> None:
        pass

    say: Callable[[str], None] = quiet if as_json else typer.echo
    say(f"Simulating the 2020 round; database and mail in {where.root}")
    started = time.monotonic()
    if prefect:
        say("Starting Prefect (a temporary local server; this takes 10 to 30 seconds) ...")
        from innspill.config.settings import quiet_prefect

        quiet_prefect()
        from innspill.flows.demo import demo_flow, temporary_server

        with temporary_server():
            demo_flow(url, str(where.mail))
        # Prefect's clients in this process may still complain at exit that the server is gone;
        # the runs are recorded and the server's own errors were shown, so that is only noise.
        import logging

        logging.disable(logging.CRITICAL)
    else:
        migrate(url)
        scenario.run(make_engine(url), CaptureTransport(where.mail))
    engine = make_engine(url)
    documents = scenario.write_latest_compilation(engine, where.documents) if keep else []
    result = scenario.report(engine, f"{where.eml_files()} .eml files in {where.mail}")
    engine.dispose()
    if as_json:
        typer.echo(scenario.as_json(result))
        return []
    typer.echo("")
    for line in result.timeline:
        typer.echo(line)
    typer.echo("")
    typer.echo(scenario.summary_text(result))
    typer.echo(f"Done in {time.monotonic() - started:.1f} s.")
    return _demo_closing(where, keep=keep, documents=documents)


def _demo_closing(where: DemoFolder, *, keep: bool, documents: list[Path]) -> list[str]:
    """Where to look next: the mail, the compilation and the dashboard, or how to keep them."""
    count = where.eml_files()
    if not keep:
        return [
            "",
            f"The temporary folder {where.root} was removed, with its database and "
            f"{count} .eml files.",
            "To keep them and browse the result on the dashboard: "
            "uv run innspill demo --data-dir DIR",
        ]
    folder = shlex.quote(str(where.root))
    lines = [
        "",
        "Where to look:",
        f"  Mail: {count} .eml files in {where.mail} (open them in any mail client)",
    ]
    # Each compilation step (each part of the round has its own): its DOCX and its HTML.
    pairs = [
        " and ".join(str(p) for p in documents[i : i + 2]) for i in range(0, len(documents), 2)
    ]
    if len(pairs) == 1:
        lines.append(f"  Latest compilation: {pairs[0]}")
    elif pairs:
        lines += ["  Latest compilations:", *(f"    {pair}" for pair in pairs)]
    lines += [
        "  Dashboard: add a user (asks for a password), then start it at http://127.0.0.1:8000/",
        f"    INNSPILL_DATA_DIR={folder} uv run innspill user add NAME",
        f"    INNSPILL_DATA_DIR={folder} uv run innspill dashboard",
        "  The round as a Noark 5 extract for the archive (DIR new or empty):",
        f"    INNSPILL_DATA_DIR={folder} uv run innspill archive export {DEMO_PROCESS} DIR",
    ]
    return lines


@app.command()
def serve() -> None:
    """Register the tick deployment (and fetch-mail) with their schedules and run them.

    Needs a Prefect server: set PREFECT_API_URL (e.g. http://127.0.0.1:4200/api). Run it on as
    many machines as you like: the server gives each scheduled run to one of them and runs one
    tick at a time; stopping one leaves the schedules running for the others.
    """
    from prefect import serve as prefect_serve
    from prefect.settings import get_current_settings

    from innspill.flows.serve import deployments

    api = get_current_settings().api.url
    if not api:
        # Without a server Prefect would start a temporary one with no scheduler: nothing
        # would ever run.
        raise fail(
            "innspill serve needs a Prefect server: start one (`prefect server start`) and "
            "set PREFECT_API_URL, e.g. http://127.0.0.1:4200/api."
        )
    settings = get_settings()
    open_engine()
    served = deployments(settings)
    typer.echo(
        f"Serving {', '.join(f'{d.flow_name}/{d.name}' for d in served)} from {api} "
        f"({safe_url(settings.resolved_database_url)}); Ctrl+C stops this process only."
    )
    # Prefect's default pauses the schedules on shutdown, for every other process serving
    # them too; the schedules belong to the round, not to this process.
    prefect_serve(*served, pause_on_shutdown=False)


@app.command()
def dashboard(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on. Default: INNSPILL_DASHBOARD_HOST.")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port. Default: INNSPILL_DASHBOARD_PORT (8000).")
    ] = None,
) -> None:
    """Start the progress dashboard (web pages for administrators and viewers; sign in first).

    Create an account with `innspill user add NAME`. It listens on loopback by default; put a
    TLS proxy in front of it to open it wider, and set INNSPILL_DASHBOARD_SECURE_COOKIE=true and
    INNSPILL_TRUSTED_PROXIES (the proxy's address) so the sign-in limit sees each client.
    """
    import uvicorn

    from innspill.dashboard.app import create_app
    from innspill.dashboard.serving.server import config

    settings = get_settings()
    open_engine().dispose()  # refuses a machine whose secret key the database does not know
    try:
        application = create_app(settings)
    except InnspillError as exc:
        raise fail(str(exc)) from None
    host = host or settings.dashboard_host
    port = port or settings.dashboard_port
    typer.echo(f"Dashboard on http://{host}:{port}/ ({safe_url(settings.resolved_database_url)})")
    uvicorn.Server(config(application, host=host, port=port)).run()
