"""`make bench` prints each run's CPU per lifecycle (q2c_localstack.bench._cpu_per_lifecycle):
the stack's processes in ms per lifecycle, busiest first, the load generator apart."""

import pytest

from q2c_localstack.bench import _cpu_per_lifecycle


@pytest.mark.parametrize(("before", "after", "lifecycles", "expected"), [
    (  # CPU seconds over the run ÷ lifecycles, in ms; the bench's own process is not the stack
        {"kafka": 10.0, "postgres": 20.0, "quote": 5.0, "bench (load, this process)": 1.0},
        {"kafka": 10.7, "postgres": 21.6, "quote": 5.6, "bench (load, this process)": 1.4},
        100,
        "CPU per lifecycle: postgres 16.0, kafka 7.0, quote 6.0, bench 4.0 ms; the stack 29.0 ms",
    ),
    (  # a process started during the run (a restarted service) counts from zero
        {"kafka": 1.0},
        {"kafka": 1.5, "order": 0.25},
        50,
        "CPU per lifecycle: kafka 10.0, order 5.0 ms; the stack 15.0 ms",
    ),
    (  # services by their names (pid file "service-quote"); one that did next to nothing is
       # left out of the list, not of the total
        {"service-quote": 3.0, "service-invoice": 2.0},
        {"service-quote": 3.5, "service-invoice": 2.00001},
        10,
        "CPU per lifecycle: quote 50.0 ms; the stack 50.0 ms",
    ),
])
def test_cpu_per_lifecycle(before, after, lifecycles, expected):
    assert _cpu_per_lifecycle(before, after, lifecycles) == expected
