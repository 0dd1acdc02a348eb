"""`q2c_messaging.runtime.freeze_startup_heap`: what is alive after start-up leaves the garbage
collector's generations (gc.freeze), so that a full collection no longer walks it; what is
allocated afterwards is still collected (docs/performance.md "Ninth session")."""

import gc
import weakref

from q2c_messaging.runtime import freeze_startup_heap


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


def test_startup_objects_are_frozen_and_later_garbage_is_still_collected() -> None:
    kept = Node()
    try:
        freeze_startup_heap()
        assert gc.get_freeze_count() > 0
        tracked = {id(o) for o in gc.get_objects()}
        assert id(kept) not in tracked  # frozen: out of every generation the collector walks
        later = Node()
        gone = weakref.ref(later)
        del later
        gc.collect()
        assert gone() is None  # a cycle made after the freeze is collected as before
    finally:
        gc.unfreeze()
