"""Errors a user sees, each as one line that says what to fix."""

from __future__ import annotations

from streamflow.core.exception import WorkflowDefinitionException


class ProgramError(ValueError):
    """A program that cannot run as submitted; its message is one line saying what to fix."""


class ConfigError(WorkflowDefinitionException):  # type: ignore[misc]  # StreamFlow has no type hints
    """A setting that names nothing we can run, or a value out of its range."""


def one_line(error: BaseException) -> str:
    """The first line of an error's message, or its type's name when it has none."""
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]
