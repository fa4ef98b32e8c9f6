"""How the command runs as a process: exit codes, signals, and the library's warnings and
messages retold in the command line's words."""

from __future__ import annotations

import contextlib
import re
import signal
import sys
import threading
import warnings
from collections.abc import Iterator, Mapping

EXIT_OK, EXIT_INCONSISTENT, EXIT_INPUT, EXIT_SOLVER = 0, 1, 2, 3
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143


class Terminated(BaseException):
    """SIGTERM arrived: unwinds the stack like Ctrl-C, so an output being written is removed."""


@contextlib.contextmanager
def signals() -> Iterator[None]:
    """Ctrl-C raises `KeyboardInterrupt` even where the shell started us with SIGINT ignored
    (background jobs); SIGTERM raises `Terminated`. The previous handlers come back
    afterwards (`main` may run inside another program)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum, frame):
        raise Terminated

    old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


_WORDS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), r)
    for p, r in (
        (r"^simulate\([^)]*\): ", ""),
        (r"^load_trajectory ", ""),
        (r"\b(tighten|loosen) rtol/atol\b", r"\1 --rtol/--atol"),
        (r"`?\bmax_steps\b`?", "--max-steps"),
        (r"\bdiffrax\.(\w+)\(\)", r"--solver \1"),
        (r"(?<!\] )(?<![-\w])dt0\b", "--dt0"),
        (
            r"use a structure-preserving solver",
            "use a structure-preserving solver (--solver DiscreteGradient --dt0 H)",
        ),
        (r"\by0\['(\w+)'\]: starts", r"the initial value of \1 starts"),
        (r"\by0\['(\w+)'\]", r"the initial value of \1"),
        (r"^y0: ", "the initial state ([initial], --set): "),
        (r"^vars\[\d+\]: ", "--vars: "),
        (r"^saveat: a number of points", "--points ([simulation] points): a number of points"),
        (
            r"declare a domain for it and check again",
            "declare its range in the model file's [domain] and check again",
        ),
    )
)


def cli_words(text: str, flags: Mapping[str, str] | None = None) -> str:
    """A library message with the Python names swapped for the command line's flags;
    `flags` says which option set each parameter (`--set` unless given)."""
    for pattern, repl in _WORDS:
        text = pattern.sub(repl, text)
    return re.sub(
        r"\bparams\['(\w+)'\]",
        lambda m: f"{(flags or {}).get(m.group(1), '--set')} {m.group(1)}",
        text,
    )


@contextlib.contextmanager
def warnings_said_once(flags: Mapping[str, str] | None = None) -> Iterator[None]:
    """Collect the library's warnings while the block runs, then print each once, in the
    command line's words (`cli_words(message, flags)`), as `generic-mm: warning: ...`
    instead of Python's `file:line: UserWarning` form. Other categories get Python's usual
    treatment."""
    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
    finally:
        ours = [w for w in caught if issubclass(w.category, UserWarning)]
        for text in dict.fromkeys(cli_words(str(w.message), flags) for w in ours):
            print(f"generic-mm: warning: {text}", file=sys.stderr)
        for w in caught:
            if not issubclass(w.category, UserWarning):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
