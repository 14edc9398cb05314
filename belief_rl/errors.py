"""User-facing errors: the CLI prints their message on one line and exits with code 2."""


class BeliefRLError(Exception):
    """Base class for errors caused by bad input rather than by a bug."""
