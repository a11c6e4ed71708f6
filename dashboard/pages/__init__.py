"""The read pages: the overview, a process, a participant, the outbox, the holding queue."""
