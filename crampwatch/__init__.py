"""crampwatch: the application that wires band, detector, classifier, store and prompts."""

__version__ = "0.1.0"
