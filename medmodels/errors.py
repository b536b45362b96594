"""The errors medmodels raises on purpose, in two families the command line and the pages tell apart.

- ``UsageError``: the request itself is wrong (unknown model, bad option, no data folder). The command
  line exits with status 2.
- ``InputError``: one input cannot be read (a corrupt scan, an invalid sequence, a file that is not
  UTF-8). It is reported beside that input, the other inputs still run, and the command exits with 1.

Every other ``MedmodelsError`` (a damaged checkpoint, a data file of the wrong kind) exits with 1. An
exception outside this family is a bug: it is never caught as if the user had made a mistake.
"""

from __future__ import annotations


class MedmodelsError(Exception):
    """Base of every error medmodels raises on purpose; the message is one line meant for the user."""

    def __str__(self) -> str:  # KeyError and FileNotFoundError subclasses would otherwise quote or reformat it
        return str(self.args[0]) if self.args else self.__class__.__name__


class UsageError(MedmodelsError):
    """A mistake in how a command or function was called (command-line exit status 2)."""


class InputError(MedmodelsError, ValueError):
    """An input that cannot be read; reported beside that input, never as a traceback."""
