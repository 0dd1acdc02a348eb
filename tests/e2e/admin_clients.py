"""The dual-write administrator: the admin CLI run as a process against the test stack."""

import asyncio
import subprocess

from q2c_localstack.config import StackConfig
from q2c_localstack.services import admin_command


async def admin(stack: StackConfig, *argv: str) -> str:
    command, env = admin_command(stack, list(argv))
    done = await asyncio.to_thread(subprocess.run, command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode in (0, 1), done.stderr
    return done.stdout


def map_line(output: str, name: str) -> list[str]:
    [line] = [x for x in output.splitlines() if x.startswith(name + " ")]
    return line.split()


async def wait_error(stack: StackConfig, *words: str) -> str:
    """The first open error-log line that holds every one of `words`, once the log has it."""
    for _ in range(60):
        lines = [x for x in (await admin(stack, "errors")).splitlines() if all(w in x for w in words)]
        if lines:
            return lines[0]
        await asyncio.sleep(0.5)  # polling the fact, not waiting for it to happen
    raise AssertionError(f"no open error with {words}")


async def wait_state(stack: StackConfig, name: str, state: str) -> list[str]:
    for _ in range(60):
        row = map_line(await admin(stack, "maps"), name)
        if row[1] == state:
            return row
        await asyncio.sleep(0.5)  # polling the fact, not waiting for it to happen
    raise AssertionError(f"{name} never became {state}")
