"""The Noark 5 v5.0 extract (arkivuttrekk) of one process: `innspill archive export`.

ids (systemIDs from natural keys), records (the journal and its documents read from the
database), checks (why a process is not ready), structure (arkivstruktur.xml), journals
(loependeJournal.xml, offentligJournal.xml), changelog (endringslogg.xml), addml
(arkivuttrekk.xml from Arkivverket's template) and writer (all of it into a folder or a ZIP).
"""
