"""panne: open, self-hostable outage detection."""

__version__ = "0.1.0"
