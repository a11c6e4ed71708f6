"""The progress dashboard: server-rendered pages over the engine's database (FastAPI + Jinja2)."""
