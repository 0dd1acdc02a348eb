"""The feature-state service process: consumes `scm.feature.commands`, owns features and
parameters, publishes `scm.feature.events` and command results."""

from pathlib import Path

from q2c_contracts.scm import ScmCommand
from q2c_contracts.topics import SCM_FEATURE_COMMANDS
from q2c_messaging.consumer import Route
from q2c_messaging.runtime import ServiceRuntime

from .service import SERVICE, handle_command, publish_defaults

MIGRATIONS = Path(__file__).parent / "migrations"


def build() -> ServiceRuntime:
    runtime = ServiceRuntime(SERVICE, MIGRATIONS)
    runtime.route(Route(
        topic=SCM_FEATURE_COMMANDS,
        parse=ScmCommand.model_validate,
        message_id=lambda command: command.command_id,
        handle=handle_command,
    ))
    runtime.on_startup(lambda pool: publish_defaults(pool, runtime.catalog))
    return runtime
