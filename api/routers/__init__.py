"""HTTP routers, one per resource; `pages` serves the clinician's HTML pages."""
