"""caredesk: a self-hostable social customer care desk."""

__version__ = "0.1.0"
