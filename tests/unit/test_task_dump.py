"""`q2c_observability.tasks.describe_tasks` (GET /debug/tasks): each task of the loop with its
await chain, outermost coroutine first, down to the future it waits for."""

import asyncio

from q2c_observability.tasks import describe_tasks


async def innermost(gate: asyncio.Event) -> None:
    await gate.wait()


async def middle(gate: asyncio.Event) -> None:
    await innermost(gate)


async def outer(gate: asyncio.Event) -> None:
    await middle(gate)


async def test_a_parked_task_shows_its_whole_await_chain_in_order() -> None:
    gate = asyncio.Event()
    task = asyncio.create_task(outer(gate), name="parked")
    await asyncio.sleep(0)
    try:
        expected = len(asyncio.all_tasks())
        dump = describe_tasks()
    finally:
        gate.set()
        await task
    lines = dump.splitlines()
    start = lines.index("task parked (pending)")
    chain = []
    for line in lines[start + 1:]:
        if not line.startswith("    "):
            break
        chain.append(line)
    names = [line.rsplit(" in ", 1)[-1] for line in chain if " in " in line]
    assert names[:4] == ["outer", "middle", "innermost", "Event.wait"]
    assert chain[-1].startswith("    awaiting <")  # the future at the bottom
    assert lines[0] == f"{expected} tasks"


async def test_every_task_is_listed_by_name() -> None:
    gates = [asyncio.Event() for _ in range(3)]
    tasks = [asyncio.create_task(outer(g), name=f"worker-{n}") for n, g in enumerate(gates)]
    await asyncio.sleep(0)
    try:
        dump = describe_tasks()
    finally:
        for gate in gates:
            gate.set()
        await asyncio.gather(*tasks)
    assert all(f"task worker-{n} (pending)" in dump for n in range(3))


async def test_a_task_waiting_on_a_gather_names_the_tasks_it_waits_for() -> None:
    gate = asyncio.Event()

    async def fan_out() -> None:
        await asyncio.gather(asyncio.create_task(outer(gate), name="left"),
                             asyncio.create_task(outer(gate), name="right"))

    task = asyncio.create_task(fan_out(), name="fan")
    for _ in range(3):
        await asyncio.sleep(0)
    try:
        dump = describe_tasks()
    finally:
        gate.set()
        await task
    assert "task fan (pending)\n" in dump
    fan = dump.split("task fan (pending)\n", 1)[1].split("\ntask ", 1)[0]
    assert fan.splitlines()[-1] == "    awaiting gather of task left, task right"
