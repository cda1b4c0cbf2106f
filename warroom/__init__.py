"""warroom: a terminal war-room dashboard for campaign launch day."""

__version__ = "0.1.0"
