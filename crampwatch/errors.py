"""Errors the command line reports as one clear message, without a traceback."""


class UserError(Exception):
    """A problem the user can fix (bad path, bad option, unreadable file)."""
