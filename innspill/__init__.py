"""innspill: a workflow engine for consultation processes of public bodies."""

__version__ = "0.1.0"
