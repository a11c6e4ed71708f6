"""The journal: entries, their gapless numbers, and the views the dashboard and CLI show."""
