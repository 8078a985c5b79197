"""Options several commands share whose defaults live in heavier modules."""

from __future__ import annotations

import argparse


def add_classifier_option(target: argparse.ArgumentParser | argparse._ArgumentGroup,
                          help_text: str) -> None:
    """Add ``--classifier`` defaulting to ``models.DEFAULT_CLASSIFIER``.

    ``help_text`` may name the default as ``%(default)s``. Called from a command's
    deferred options (``CommandParser.add_later``): importing ``models`` loads the detector.
    """
    from models import DEFAULT_CLASSIFIER

    target.add_argument("--classifier", default=DEFAULT_CLASSIFIER, help=help_text)
