"""Structured logging (structlog over the standard library), with personal data masked."""

from __future__ import annotations

import logging
import re
import sys

import structlog
from structlog.typing import EventDict, WrappedLogger

_PHONE = re.compile(r"(?<!\d)(\+?\d{1,3}[ -]?)?(1[3-9]\d{9}|\d{3}[ -]?\d{3,4}[ -]?\d{4})(?!\d)")
# The look-behind starts a match only where a run of address characters starts: without it a
# long run with no "@" (20,000 digits in a description) is rescanned from every position.
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*(@[A-Za-z0-9.-]+\.[A-Za-z]{2,})"
)


def mask_personal_data(text: str) -> str:
    """Mask phone numbers (keep the last 4 digits) and e-mail local parts."""
    text = _EMAIL.sub(r"\1***\2", text)
    return _PHONE.sub(lambda m: "***" + re.sub(r"\D", "", m.group(0))[-4:], text)


def _mask_processor(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    for key, value in event_dict.items():
        if isinstance(value, str):
            event_dict[key] = mask_personal_data(value)
    return event_dict


class _StderrLogger:
    """Writes each line to the *current* `sys.stderr`, so swapped streams (CLI runners, test
    capture) never leave the logger holding a closed file."""

    def msg(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    debug = info = warning = warn = error = critical = exception = fatal = log = msg


def _stderr_logger_factory(*_args: object) -> _StderrLogger:
    return _StderrLogger()


def configure_logging(level: str = "INFO", json: bool = False) -> None:
    """Configure structlog and the stdlib root logger once per process."""
    renderer = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _mask_processor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=_stderr_logger_factory,
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(
        level=level.upper(), stream=sys.stderr, format="%(levelname)s %(name)s %(message)s"
    )


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A structured logger named for its module."""
    return structlog.get_logger(name)
