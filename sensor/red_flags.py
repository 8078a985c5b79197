"""Clinical limits every room shares (no imports: the command line reads them at start)."""

from __future__ import annotations

# DOMAIN.md "Red flags": a cramp that has not let go after 10 minutes.
RED_FLAG_CRAMP_S = 600.0
