"""One module per `crampwatch` subcommand; each exposes ``register(subparsers)``."""
