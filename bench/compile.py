"""Compilation benchmark: DOCX + HTML for 500 participants x 4 themes x 2 KB answers.

Run: `python -m bench.compile [--participants N] [--answer-bytes B]`. The build runs in a
subprocess of its own so that its peak RSS is the build's alone; the parent also times the
writing of the same amount of plain text, as a baseline that makes the figures comparable
across noisy machines. Exits 0 whatever the numbers are: read the PASS / ABOVE TARGET marks.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "config" / "processes" / "byvekstavtaler-sekretariat-2020.toml"
OSLO = ZoneInfo("Europe/Oslo")

TARGET_SECONDS = 10.0
TARGET_RSS_MB = 300

VOCABULARY = (
    "sekretariatet styringsgruppen avtalepartene byvekstavtalen kommunene fylkeskommunen staten "
    "porteføljestyring kostnadsstyring fullmakt rolle ansvar koordinering rapportering møter "
    "referat oppfølging beslutninger tiltak prioritering budsjett handlingsprogram nullvekstmålet "
    "kollektivtrafikk sykkel gange areal transport samarbeid informasjon publikum representasjon "
    "og i for med til av på som at det er bør skal kan må ikke også både eller"
)
WORDS = VOCABULARY.split()


def answer_text(rng: random.Random, size: int) -> str:
    """About `size` characters of Norwegian-looking prose in paragraphs of 3-6 sentences."""
    paragraphs: list[str] = []
    length = 0
    while length < size:
        sentences = []
        for _ in range(rng.randint(3, 6)):
            words = rng.choices(WORDS, k=rng.randint(8, 18))
            sentences.append(" ".join(words).capitalize() + ".")
        paragraph = " ".join(sentences)
        paragraphs.append(paragraph)
        length += len(paragraph) + 2
    return "\n\n".join(paragraphs)[:size].rstrip() + "."


def make_input(participants: int, answer_bytes: int):
    from innspill.documents.compilation import CompilationInput, CompiledAnswer
    from innspill.process.definition import RequestStep, load_definition

    definition = load_definition(SEED)
    step = definition.step("innspill-retningslinjer")
    assert isinstance(step, RequestStep)
    themes = definition.themes_of(step)
    rng = random.Random(2020)
    opens = datetime(2020, 5, 1, 8, 0, tzinfo=OSLO)
    answers = []
    for n in range(1, participants + 1):
        received = opens + timedelta(minutes=rng.randint(0, 60 * 24 * 40))
        answers.append(
            CompiledAnswer(
                participant_id=f"deltaker-{n:04d}",
                participant_name=f"Sekretariatet for byvekstavtalen i eksempelkommune {n}",
                area=f"Eksempelkommune {n}",
                received_at=received,
                late=received.date() > step.deadline,
                version=1 + n % 3,
                texts={t.id: answer_text(rng, answer_bytes) for t in themes},
                attachments=(f"innspill-{n:04d}.pdf",) if n % 7 == 0 else (),
            )
        )
    return CompilationInput(
        process=definition.process,
        sender=definition.sender,
        step=step,
        themes=themes,
        answers=answers,
        missing=[("mangler-1", "Sekretariatet for byvekstavtalen i Mangelby")],
        version=1,
        made_at=datetime(2020, 6, 3, 8, 30, tzinfo=OSLO),
        deadline=step.deadline,
    )


def plain_text(data) -> str:
    """The same content as plain text: the baseline the builds are compared with."""
    lines = []
    for theme in data.themes:
        lines.append(theme.title)
        lines.extend(theme.questions)
        for answer in data.answers:
            local = answer.received_at.astimezone(OSLO)
            lines.append(f"{answer.participant_name}\t{local:%d.%m.%Y %H.%M}")
            lines.append(answer.texts.get(theme.id, "(ikke besvart for dette temaet)"))
    return "\n".join(lines)


def child(participants: int, answer_bytes: int) -> None:
    """Build both formats once and report the figures as JSON on stdout."""
    from innspill.documents.compilation import build_docx, build_html

    data = make_input(participants, answer_bytes)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    docx_bytes = build_docx(data)
    docx_done = time.perf_counter()
    page = build_html(data)
    html_done = time.perf_counter()
    print(
        json.dumps(
            {
                "docx_s": docx_done - started,
                "html_s": html_done - docx_done,
                "docx_bytes": len(docx_bytes),
                "html_bytes": len(page.encode()),
                "text_bytes": sum(len(t) for a in data.answers for t in a.texts.values()),
                "rss_before_mb": rss_before,
                "rss_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def mark(ok: bool) -> str:
    return "PASS" if ok else "ABOVE TARGET"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=500)
    parser.add_argument("--answer-bytes", type=int, default=2048)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.participants, args.answer_bytes)
        return

    command = [
        sys.executable,
        "-m",
        "bench.compile",
        "--child",
        f"--participants={args.participants}",
        f"--answer-bytes={args.answer_bytes}",
    ]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    # ru_maxrss of the children is in kB on Linux; the only child so far is the build.
    children_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

    data = make_input(args.participants, args.answer_bytes)
    # Best of five: a single run of a few milliseconds is mostly noise.
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        text = plain_text(data)
        timings.append(time.perf_counter() - started)
    baseline = min(timings)

    total = figures["docx_s"] + figures["html_s"]
    peak = max(figures["rss_peak_mb"], children_mb)
    print(
        f"compilation: {args.participants} participants x {len(data.themes)} themes x "
        f"{args.answer_bytes} B answers ({figures['text_bytes'] / 1e6:.1f} MB of answer text)"
    )
    print(f"  docx  {figures['docx_s']:6.2f} s  ({figures['docx_bytes'] / 1e6:.1f} MB file)")
    print(f"  html  {figures['html_s']:6.2f} s  ({figures['html_bytes'] / 1e6:.1f} MB page)")
    print(
        f"  total {total:6.2f} s  target < {TARGET_SECONDS:.0f} s  {mark(total < TARGET_SECONDS)}"
    )
    print(
        f"  peak RSS {peak:6.1f} MB (before the build {figures['rss_before_mb']:.1f} MB)  "
        f"target < {TARGET_RSS_MB} MB  {mark(peak < TARGET_RSS_MB)}"
    )
    print(
        f"  baseline: the same content as plain text ({len(text) / 1e6:.1f} MB) "
        f"{baseline * 1000:.1f} ms (best of 5); build / baseline = {total / baseline:.0f}x"
    )


if __name__ == "__main__":
    main()
