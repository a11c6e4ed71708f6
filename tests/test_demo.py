"""`innspill demo` as a newcomer meets it: its folder, what it leaves behind, what it prints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.subprocess_cli import one_line_error, run_innspill

MARKER = ".innspill-demo"


def demo(
    *args: str, tmp_path: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return run_innspill("demo", *args, env=env or {}, cwd=tmp_path, timeout=300)


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ROOT with its bytes and modification time: what "untouched" means."""
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_a_folder_with_files_the_demo_did_not_write_is_refused_untouched(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs"
    (theirs / "mail").mkdir(parents=True)
    (theirs / "report.docx").write_bytes(b"my report")
    (theirs / "mail" / "old.eml").write_text("Subject: mine\n\nkeep me\n")
    (theirs / "innspill.db").write_bytes(b"not the demo's")
    before = snapshot(theirs)

    result = demo("--no-prefect", "--data-dir", str(theirs), tmp_path=tmp_path)

    error = one_line_error(result)
    assert str(theirs) in error
    assert "not made by the demo" in error and "new or empty folder" in error
    assert snapshot(theirs) == before
    assert not (theirs / MARKER).exists()


def test_a_file_given_as_the_folder_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "notes.txt"
    file.write_text("mine")

    error = one_line_error(demo("--no-prefect", "--data-dir", str(file), tmp_path=tmp_path))

    assert str(file) in error and "not a folder" in error
    assert file.read_text() == "mine"


def test_a_demo_folder_is_run_again_replacing_only_the_demos_own_files(tmp_path: Path) -> None:
    root = tmp_path / "new" / "demo"  # not there yet: the demo makes it, parents too
    first = demo("--no-prefect", "--data-dir", str(root), tmp_path=tmp_path)
    assert first.returncode == 0, first.stderr
    assert (root / MARKER).is_file() and (root / "innspill.db").is_file()
    emls = sorted(p.name for p in (root / "mail").glob("*.eml"))
    assert len(emls) > 90
    compiled = sorted(p.name for p in (root / "documents").iterdir())
    # the latest of each compilation (part 1's and part 2's), as DOCX and HTML
    assert [Path(n).suffix for n in compiled] == [".docx", ".html"] * 2
    assert (root / "secret_key").stat().st_mode & 0o077 == 0

    # What a user may put beside and among the demo's files, and a stale demo file.
    (root / "mine.txt").write_text("my notes")
    (root / "mail" / "notes.txt").write_text("about the mail")
    (root / "documents" / "my-draft.docx").write_bytes(b"my draft")
    (root / "mail" / "stale-from-an-older-run.eml").write_text("Subject: old\n\n")
    (root / "documents" / "sammenstilling-x-v9.docx").write_bytes(b"old compilation")
    (root / "innspill.db").write_bytes(b"an older demo database")

    again = demo("--no-prefect", "--json", "--data-dir", str(root), tmp_path=tmp_path)

    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)  # --json prints the summary only, no closing lines
    assert summary["messages"]["total"] == len(emls)
    # The round ends with an archival copy (PDF/A) of every letter sent and every answer.
    copies = summary["archival_copies"]
    assert copies["failed"] == []
    assert copies["by_kind"]["letter"] == summary["messages"]["by_status"]["sent"] == len(emls)
    assert copies["by_kind"]["answer"] == summary["answers"]["total"]
    # every mail is a journaled letter but the compilation's (it shows the compilation's number)
    journal = summary["journal"]
    assert journal["first"] == "20/64758-6"  # the seed's [archive] first_document_number
    assert (
        journal["by_source"]["letter"] == len(emls) - summary["messages"]["by_kind"]["compilation"]
    )
    assert (root / "mine.txt").read_text() == "my notes"
    assert (root / "mail" / "notes.txt").read_text() == "about the mail"
    assert (root / "documents" / "my-draft.docx").read_bytes() == b"my draft"
    assert sorted(p.name for p in (root / "mail").glob("*.eml")) == emls
    assert sorted(p.name for p in (root / "documents").glob("sammenstilling-*")) == compiled
    assert (root / "innspill.db").read_bytes()[:16] == b"SQLite format 3\x00"
    assert (root / MARKER).is_file()


def test_an_empty_folder_is_taken_and_the_closing_lines_say_where_to_look(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    root.mkdir()

    result = demo("--no-prefect", "--data-dir", str(root), tmp_path=tmp_path)

    assert result.returncode == 0, result.stderr
    closing = result.stdout.split("Where to look:", 1)[1].splitlines()
    count = len(list((root / "mail").glob("*.eml")))
    assert f"  Mail: {count} .eml files in {root / 'mail'}" in closing[1]
    first, first_html, second, second_html = sorted((root / "documents").iterdir())
    assert closing[2:5] == [
        "  Latest compilations:",
        f"    {first} and {first_html}",
        f"    {second} and {second_html}",
    ]
    assert "innspill-oppdrag" in first.name and "innspill-retningslinjer" in second.name
    assert f"    INNSPILL_DATA_DIR={root} uv run innspill user add NAME" in closing
    assert f"    INNSPILL_DATA_DIR={root} uv run innspill dashboard" in closing
    # The dashboard's commands work on the folder: its key matches the demo's database.
    listed = run_innspill("user", "list", env={"INNSPILL_DATA_DIR": str(root)}, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "No users" in listed.stdout


def test_without_a_folder_the_temporary_one_is_removed_and_the_demo_says_so(
    tmp_path: Path,
) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()

    result = demo("--no-prefect", tmp_path=tmp_path, env={"TMPDIR": str(temp)})

    assert result.returncode == 0, result.stderr
    assert list(temp.iterdir()) == []
    last = result.stdout.rstrip().splitlines()[-2:]
    assert last[0].startswith(f"The temporary folder {temp}/innspill-demo-")
    assert last[0].endswith("was removed, with its database and 102 .eml files.")
    assert (
        last[1] == "To keep them and browse the result on the dashboard: "
        "uv run innspill demo --data-dir DIR"
    )


def prefect_env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "prefect-home"
    home.mkdir()
    return {
        "PREFECT_HOME": str(home),
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "TMPDIR": str(tmp_path),
    }


def test_the_demo_through_prefect_prints_no_server_noise(tmp_path: Path) -> None:
    result = demo(env=prefect_env(tmp_path), tmp_path=tmp_path)

    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert "CancelledError" not in output
    assert "Traceback" not in output
    assert "Done in" in result.stdout
    assert "was removed, with its database and 102 .eml files." in result.stdout
    assert "Archival copies (PDF/A-2b): letter 102, answer 16, document 6" in result.stdout
    assert not list(tmp_path.glob("innspill-demo-*"))


SERVER_SCRIPT = textwrap.dedent(
    """
    import os, sys
    from prefect.server.api.server import SubprocessASGIServer
    from innspill.flows.demo import temporary_server

    with temporary_server():
        pid = SubprocessASGIServer().server_process.pid
        ours = os.stat(2)
        theirs = os.stat(f"/proc/{pid}/fd/2")
        print("same stderr:", (ours.st_dev, ours.st_ino) == (theirs.st_dev, theirs.st_ino))
        # What the server writes while the flows run: a real error, to be shown.
        with open(f"/proc/{pid}/fd/2", "a") as server_stderr:
            server_stderr.write("REAL ERROR WHILE RUNNING\\n")
    print("server stopped:", SubprocessASGIServer().server_process is None)
    """
)


def test_the_temporary_servers_stderr_is_kept_apart_and_its_errors_shown(tmp_path: Path) -> None:
    env = {**os.environ, **prefect_env(tmp_path)}
    env.pop("PREFECT_API_URL", None)
    result = subprocess.run(
        [sys.executable, "-c", SERVER_SCRIPT],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "same stderr: False" in result.stdout
    assert "server stopped: True" in result.stdout
    assert "REAL ERROR WHILE RUNNING" in result.stderr


def test_a_link_in_a_demo_folder_is_not_followed_to_delete_files(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    assert demo("--no-prefect", "--data-dir", str(root), tmp_path=tmp_path).returncode == 0
    elsewhere = tmp_path / "my-mail"
    elsewhere.mkdir()
    (elsewhere / "letter.eml").write_text("Subject: mine\n\n")
    for old in (root / "mail").iterdir():
        old.unlink()
    (root / "mail").rmdir()
    (root / "mail").symlink_to(elsewhere)

    error = one_line_error(demo("--no-prefect", "--data-dir", str(root), tmp_path=tmp_path))

    assert str(root / "mail") in error and "link" in error
    assert (elsewhere / "letter.eml").read_text() == "Subject: mine\n\n"
