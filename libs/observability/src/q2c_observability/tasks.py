"""What a service's asyncio tasks are waiting on, as text (`GET /debug/tasks`, docs/observability.md).

Why: a service that stops making progress while its process, heartbeats and health checks live
(a consumer loop awaiting something that never comes) shows nothing in its logs and nothing in
a thread dump (py-spy sees the event loop idling in epoll). The await chain of each task says
where it is parked: coroutine by coroutine down to the future it waits for."""

import asyncio
import itertools
from collections.abc import Iterator
from typing import Any


def _chain(awaitable: Any, waiting_on: Any) -> Iterator[str]:
    """The frames of a suspended coroutine and of what it awaits, outermost first, then the
    future the task waits on (`waiting_on`): another task by name, the tasks of a gather, or
    the future itself."""
    while awaitable is not None:
        frame = getattr(awaitable, "cr_frame", None) or getattr(awaitable, "gi_frame", None) \
            or getattr(awaitable, "ag_frame", None)
        if frame is None:
            break
        code = frame.f_code
        yield f"    {code.co_filename}:{frame.f_lineno} in {code.co_qualname}"
        awaitable = getattr(awaitable, "cr_await", None) or getattr(awaitable, "gi_yieldfrom", None) \
            or getattr(awaitable, "ag_await", None)
    if waiting_on is not None:
        yield f"    awaiting {_future(waiting_on)}"[:400]


def _future(future: Any) -> str:
    if isinstance(future, asyncio.Task):
        return f"task {future.get_name()}"
    children = getattr(future, "_children", None)  # what asyncio.gather returns
    if children is not None:
        return "gather of " + ", ".join(_future(child) for child in children)
    return repr(future)


def describe_tasks(limit: int = 2000) -> str:
    """Every task of the running loop with its await chain (at most `limit` tasks)."""
    tasks = sorted(asyncio.all_tasks(), key=lambda t: t.get_name())
    lines = [f"{len(tasks)} tasks"]
    for task in itertools.islice(tasks, limit):
        lines.append(f"task {task.get_name()} ({'done' if task.done() else 'pending'})")
        # `_fut_waiter`: the future a task is parked on (CPython's Task, C and Python alike);
        # the coroutine chain only ends in that future's anonymous iterator.
        lines.extend(_chain(task.get_coro(), getattr(task, "_fut_waiter", None)))
    return "\n".join(lines) + "\n"
