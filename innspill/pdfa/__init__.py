"""PDF/A-2b: HTML and Markdown rendered with WeasyPrint, and PDF/A identification read back.

Nothing here imports the rest of innspill, so the process loader (the assignment sent as PDF)
and the archival copies (innspill.archival) can both use it. WeasyPrint and pikepdf are
imported when first used: they take about a second to import, and most commands never need
them.
"""
