"""gitdatax: version a data-science project whole (code, data and models) inside plain Git."""
from __future__ import annotations

__version__ = "0.1.0"
