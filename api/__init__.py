"""The event store, the HTTP API and the clinician's web pages."""
