"""How the command line ends a run that cannot go on: one line on stderr and an exit status.

A mistake in what the user gave (a missing or unreadable file, a folder where a file is
wanted, a config setting of the wrong type, a CSV cell that is not a number, a model file
chainrule cannot load, an optional package that is not installed) ends in
``chainrule <command>: <what is wrong>`` and status 2; a training run whose loss became NaN or
infinite in status 1; Ctrl-C in ``chainrule <command>: interrupted...`` and status 130 (as a
shell reports SIGINT). Anything else is a bug in chainrule: one line that says so, status 70
(EX_SOFTWARE of sysexits.h). With ``--debug`` the error is raised instead, traceback and all.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

EXIT_DIVERGED = 1
EXIT_USAGE = 2
EXIT_BUG = 70
EXIT_INTERRUPTED = 130

# The errors a user's input causes. chainrule.io.LoadError is a ValueError, and the missing
# file, folder and permission errors are OSErrors; a TypeError comes from a config value of
# the wrong type, or a layer that chainrule.onnx cannot export.
USER_ERRORS = (OSError, ValueError, TypeError, ImportError)


def one_line(text: str) -> str:
    """``text`` with its lines joined by spaces, blank lines and surrounding spaces dropped."""
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def describe(error: BaseException) -> str:
    """The error's message as one line. An OSError raised by the system (``[Errno 2] No such
    file or directory: 'x'``) reads ``No such file or directory: 'x'``."""
    text = str(error)
    if isinstance(error, OSError) and text.startswith("[Errno") and error.strerror:
        text = error.strerror
        if error.filename is not None:
            text += f": {str(error.filename)!r}"
        if error.filename2 is not None:
            text += f" -> {str(error.filename2)!r}"
    return one_line(text) or type(error).__name__


def report(command: str, message: str) -> None:
    """Print ``chainrule <command>: <message>`` as one line on stderr, after stdout's lines."""
    sys.stdout.flush()
    print(f"chainrule {command}: {one_line(message)}", file=sys.stderr, flush=True)


def run_reporting(command: str, action: Callable[[], int], debug: bool) -> int:
    """``action()``'s exit status, or the status of the error it raised, reported in one line
    (see the module docstring). ``debug`` lets every error through with its traceback."""
    from chainrule.train import TrainingDivergedError

    try:
        return action()
    except KeyboardInterrupt as error:
        if debug:
            raise
        report(command, str(error) or "interrupted")
        return EXIT_INTERRUPTED
    except TrainingDivergedError as error:
        if debug:
            raise
        report(command, describe(error))
        return EXIT_DIVERGED
    except USER_ERRORS as error:
        if debug or isinstance(error, BrokenPipeError):
            raise
        report(command, describe(error))
        return EXIT_USAGE
    except Exception as error:
        if debug:
            raise
        report(
            command,
            f"internal error, a bug in chainrule ({type(error).__name__}: {describe(error)}); "
            "run the command again with --debug to see the traceback, and please report it",
        )
        return EXIT_BUG
