"""genesys-finance: Genesys Cloud analytics into SQL tables finance can trust."""

__version__ = "0.1.0"
