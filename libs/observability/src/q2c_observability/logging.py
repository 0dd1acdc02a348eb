"""JSON logs, one object per line, with the ids of the message being handled.

Context lives in contextvars, so concurrent handlers (one per partition worker) never mix
their ids; `bind_message_context` is called by the consumer recipe for each message."""

import logging
import sys
from typing import Any

import structlog


def configure_logging(service: str, level: str = "INFO") -> None:
    numeric_level = logging.getLevelName(level.upper())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.WriteLoggerFactory(file=sys.stdout),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)
    # Third-party loggers (aiokafka, faststream) go through the same JSON renderer.
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(),
            ],
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(numeric_level, logging.WARNING) if numeric_level < logging.WARNING else numeric_level)


def bind_message_context(**ids: Any) -> None:
    """Replace the message part of the log context (service stays bound)."""
    structlog.contextvars.unbind_contextvars(
        "message_id", "type", "correlation_id", "causation_id", "key", "topic", "partition", "offset",
        "trace_id",
    )
    structlog.contextvars.bind_contextvars(**{k: v for k, v in ids.items() if v is not None})


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
