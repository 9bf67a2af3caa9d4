"""The CLI's error type (importable without torch)."""


class CLIError(Exception):
    """A bad command-line value: the message says what was wrong and what is valid."""
