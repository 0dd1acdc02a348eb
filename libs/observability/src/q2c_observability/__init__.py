"""structlog set-up and the per-message log context (correlation and causation ids)."""

from .logging import bind_message_context, configure_logging, get_logger

__all__ = ["bind_message_context", "configure_logging", "get_logger"]
