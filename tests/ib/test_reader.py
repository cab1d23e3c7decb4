"""The IB sockets' bytes reach ib_async's decoder whole, in order, and never all in one loop iteration."""

from __future__ import annotations

import asyncio
import struct

import pytest

from mats.ib.reader import DecodeBudget, PacedReader


def message(n: int, size: int = 40) -> bytes:
    body = f"{n}\0".encode().ljust(size, b"x")
    return struct.pack(">I", len(body)) + body


class Decoder:
    """Stands in for ib_async's ``_onSocketHasData``: records each call and the loop iteration it ran in."""

    def __init__(self, iteration: list[int]) -> None:
        self.calls: list[tuple[int, bytes]] = []
        self.iteration = iteration

    def __call__(self, data: bytes) -> None:
        self.calls.append((self.iteration[0], data))


async def count_iterations(iteration: list[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        iteration[0] += 1
        await asyncio.sleep(0)


async def test_a_burst_is_decoded_whole_in_order_a_few_messages_per_loop_iteration() -> None:
    iteration = [0]
    decoder = Decoder(iteration)
    budget = DecodeBudget(per_iteration_s=0.0)  # one message per turn
    reader = PacedReader(decoder, budget)
    stop = asyncio.Event()
    ticker = asyncio.create_task(count_iterations(iteration, stop))
    burst = b"".join(message(n) for n in range(50))
    reader.feed(burst[:1000])  # reads cut anywhere, even inside a length prefix
    reader.feed(burst[1000:1002])
    reader.feed(burst[1002:])
    for _ in range(200):
        if not reader.pending:
            break
        await asyncio.sleep(0)
    stop.set()
    await ticker
    assert [data for _, data in decoder.calls] == [message(n) for n in range(50)]
    turns = [it for it, _ in decoder.calls]
    assert len(set(turns)) >= 40, "the burst took the loop in one go"
    assert reader.pending == 0


async def test_sockets_share_the_budget_and_the_first_to_wait_goes_first() -> None:
    iteration = [0]
    first, second = Decoder(iteration), Decoder(iteration)
    budget = DecodeBudget(per_iteration_s=0.0)
    a, b = PacedReader(first, budget), PacedReader(second, budget)
    a.feed(message(1) + message(2))  # decodes message 1, spends the iteration's budget, queues
    b.feed(message(3))  # the budget is spent: waits, behind a
    assert [d for _, d in first.calls] == [message(1)] and second.calls == []
    for _ in range(10):
        if not (a.pending or b.pending):
            break
        await asyncio.sleep(0)
    assert [d for _, d in first.calls] == [message(1), message(2)]
    assert [d for _, d in second.calls] == [message(3)]
    assert first.calls[1][0] <= second.calls[0][0]
    assert budget.deferred == 2


async def test_what_was_read_is_decoded_before_the_socket_is_reported_closed() -> None:
    decoder = Decoder([0])
    budget = DecodeBudget(per_iteration_s=0.0)
    reader = PacedReader(decoder, budget)
    reader.feed(message(1) + message(2) + message(3) + message(4)[:7])
    assert len(decoder.calls) == 1
    reader.flush()  # the socket closed: every whole message, now, whatever the budget
    assert [d for _, d in decoder.calls] == [message(n) for n in (1, 2, 3)]
    assert reader.discard() == 7  # a message cut off by the close is not decoded
    await asyncio.sleep(0)  # the budget's next turn finds nothing waiting
    assert len(decoder.calls) == 3


@pytest.mark.parametrize("size", [1, 3, 4, 5])
async def test_a_read_too_short_for_a_whole_message_waits_for_the_rest(size: int) -> None:
    decoder = Decoder([0])
    reader = PacedReader(decoder, DecodeBudget())
    whole = message(7)
    reader.feed(whole[:size])
    assert decoder.calls == []
    reader.feed(whole[size:])
    assert [d for _, d in decoder.calls] == [whole]
