"""Prefect flows and tasks: thin orchestration over the plain functions in `innspill`."""
