"""StreamFlow plugins that share quantum processors between hybrid workflows."""

from __future__ import annotations

__version__ = "0.1.0"
