"""What every part of the command line shares: exit statuses, the user-mistake exception, the
one format of its messages on standard error, and the checks of arguments that depend on the
input."""

from __future__ import annotations

import sys

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2

PROG = "logitkit"


class UserError(Exception):
    """A mistake in the command line or the input: reported in one line, exit status 2."""


def report_error(message: str) -> None:
    """The one line every error is reported as: `logitkit: error: MESSAGE`."""
    print(f"{PROG}: error: {message}", file=sys.stderr)


def note(message: str) -> None:
    """A remark about the results that does not change the exit status."""
    print(f"{PROG}: note: {message}", file=sys.stderr)


def short(e: BaseException) -> str:
    """The first line of an exception's message (its type's name if it has none)."""
    return str(e).splitlines()[0] if str(e) else type(e).__name__


def check_axis(axis: int, ndim: int, shape: tuple[int, ...]) -> int:
    """`axis` made non-negative, or a UserError."""
    n = max(ndim, 1)                          # a 0-d input has the one axis of its slice
    if not -n <= axis < n:
        raise UserError(f"--axis {axis} is out of range for an input of shape {shape} "
                        f"(valid: {-n} to {n - 1})")
    return axis % n
