"""Prompt channels, each a small plug-in with one interface (:class:`~.base.PromptChannel`)."""
