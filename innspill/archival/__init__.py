"""Archival copies in PDF/A-2b of every letter sent, every answer, every document and file.

`pages` renders a mail or an answer as a letter page (who, to whom, when, subject, files)
followed by its text; `office` converts DOCX and ODT with LibreOffice and plain PDF with
Ghostscript; `sources` finds the records still without a copy; `convert` is the pass that
claims a bounded batch of them, converts each and records the result or why it failed
(the table is innspill.models.ArchivalCopy). The pass runs after the tick's sending, from
`innspill archive convert`, and at the end of the demo: never while a tick queues letters.
"""
