"""Mail that leaves: composing, templates, MIME, calendar files, the outbox and its transports."""
