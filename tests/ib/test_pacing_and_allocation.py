"""IB pacing gates, clientId allocation and error classification: pure logic, no loop tricks."""

from __future__ import annotations

import pytest

from mats.ib import ClientAllocator, HistoricalPacer, Signal, SlidingWindow, classify
from mats.ib.errors import Severity, farm_of


class FakeClock:
    """Time that only moves when someone sleeps, so pacing is tested exactly and instantly."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_fifty_messages_per_second_then_the_fifty_first_waits_for_the_oldest() -> None:
    clock = FakeClock()
    window = SlidingWindow(50, 1.0, clock=clock, sleep=clock.sleep)
    for i in range(50):
        clock.now = i * 0.01
        assert await window.acquire() == 0.0
    clock.now = 0.5
    waited = await window.acquire()
    assert waited == pytest.approx(0.5)  # the first message (t=0) ages out at t=1.0
    assert clock.now == pytest.approx(1.0)


async def test_historical_requests_respect_identical_same_contract_and_overall_limits() -> None:
    clock = FakeClock()
    pacer = HistoricalPacer(clock=clock, sleep=clock.sleep)
    assert await pacer.acquire("AAPL", ("AAPL", "1 D", "1 min")) == 0.0
    # The identical request again: IB wants 15 s between them.
    assert await pacer.acquire("AAPL", ("AAPL", "1 D", "1 min")) == pytest.approx(15.0)
    # At most five for one contract within 2 s: four more pass, the sixth in the window waits.
    start = clock.now
    for n in range(4):
        await pacer.acquire("AAPL", ("AAPL", f"{n + 2} D", "1 min"))
    assert clock.now == start
    await pacer.acquire("AAPL", ("AAPL", "9 D", "1 min"))
    assert clock.now == pytest.approx(start + 2.0)
    # 60 per 10 minutes overall, across contracts.
    clock2 = FakeClock()
    pacer2 = HistoricalPacer(clock=clock2, sleep=clock2.sleep)
    for n in range(60):
        await pacer2.acquire(f"C{n}", (f"C{n}",))
    assert clock2.now == 0.0
    await pacer2.acquire("C60", ("C60",))
    assert clock2.now == pytest.approx(600.0)


def test_strategies_get_their_own_client_ids_until_the_gateway_is_full_then_share() -> None:
    allocator = ClientAllocator(max_clients=32, master_client_id=99)
    ids = [allocator.assign(f"s{n}") for n in range(40)]
    own, shared = ids[:30], ids[30:]
    assert own == list(range(1, 31)) and allocator.connections == 30  # 30 + engine + recorder = 32
    assert shared == list(range(1, 11))  # least loaded, lowest id first
    assert allocator.is_shared(1) and not allocator.is_shared(11)
    assert allocator.strategies_on(1) == ["s0", "s30"]
    assert allocator.release("s0") is None  # s30 still trades through client 1
    assert allocator.release("s30") == 1


def test_a_restarted_strategy_gets_its_previous_client_id_back() -> None:
    allocator = ClientAllocator(max_clients=32, master_client_id=99)
    allocator.assign("a")
    assert allocator.assign("b", preferred=17) == 17
    allocator.release("b")
    assert allocator.assign("b", preferred=17) == 17
    assert allocator.assign("c", preferred=99) != 99  # the master's id is never a strategy's


@pytest.mark.parametrize(
    ("code", "severity", "signal"),
    [
        (1100, Severity.ALERT, Signal.CONNECTIVITY_LOST),
        (1101, Severity.ALERT, Signal.RESTORED_DATA_LOST),
        (1102, Severity.ALERT, Signal.RESTORED_DATA_KEPT),
        (2103, Severity.ALERT, Signal.FARM_BROKEN),
        (2104, Severity.INFO, Signal.FARM_OK),
        (2158, Severity.INFO, Signal.FARM_OK),
        (2119, Severity.INFO, Signal.NONE),
        (10182, Severity.WARNING, Signal.STREAM_DIED),
        (326, Severity.ERROR, Signal.CLIENT_ID_IN_USE),
        (201, Severity.ERROR, Signal.ORDER_REJECTED),
        (202, Severity.INFO, Signal.ORDER_CANCELLED),
        (10147, Severity.WARNING, Signal.CANCEL_REFUSED),
        (162, Severity.WARNING, Signal.PACING),
        (404, Severity.WARNING, Signal.NONE),
        (9999, Severity.ERROR, Signal.NONE),
    ],
)
def test_error_codes_are_classified_as_designed(code: int, severity: Severity, signal: Signal) -> None:
    assert (classify(code).severity, classify(code).signal) == (severity, signal)


def test_farm_name_is_taken_from_the_notice() -> None:
    assert farm_of("Market data farm connection is OK:usfarm") == "usfarm"
    assert farm_of("HMDS data farm connection is broken:ushmds") == "ushmds"
