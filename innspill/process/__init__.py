"""The process itself: its file format, Norwegian working days, loading and deadlines."""
