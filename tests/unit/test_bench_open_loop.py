"""The bench's open loop (`q2c_localstack.bench._open_loop`): lifecycles start at the given
rate whatever the earlier ones are doing, and stop starting when too many are in flight.
A fake Sales client stands in for the stack."""

import asyncio

import pytest

from q2c_localstack import bench


class FakeSales:
    def __init__(self, seconds: float, fail_every: int = 0) -> None:
        self.seconds, self.fail_every = seconds, fail_every
        self.started = 0
        self.most_in_flight = self.in_flight = 0

    async def lifecycle(self, latencies: dict[str, list[float]]) -> str:
        self.started += 1
        n = self.started
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.seconds)
            if self.fail_every and n % self.fail_every == 0:
                raise TimeoutError("no answer")
            latencies["create"].append(self.seconds * 1000)
            return "B-1"
        finally:
            self.in_flight -= 1


async def test_lifecycles_start_at_the_rate_and_overlap_when_each_takes_longer() -> None:
    sales = FakeSales(seconds=0.2)
    latencies: dict[str, list[float]] = {"create": []}
    done, failed, held = await bench._open_loop(sales, 200.0, latencies, 0.5)  # type: ignore[arg-type]  # fake
    # about 100 arrivals in 0.5 s at 200/s (Poisson: within a wide margin), all finished
    assert 60 <= done <= 140 and failed == 0 and held == 0
    assert sales.most_in_flight > 10  # a closed loop of one user would never overlap
    assert len(latencies["create"]) == done


async def test_failures_are_counted_and_the_loop_holds_back_past_its_in_flight_limit(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench, "OPEN_LOOP_IN_FLIGHT", 5)
    sales = FakeSales(seconds=1.0, fail_every=2)
    done, failed, held = await bench._open_loop(sales, 100.0, {"create": []}, 0.3)  # type: ignore[arg-type]
    assert sales.most_in_flight == 5
    assert done + failed == 5 and failed == 2
    assert held > 10  # the other arrivals of 0.3 s at 100/s were not started
