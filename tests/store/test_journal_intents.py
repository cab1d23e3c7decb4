"""The order-intent log: a new order is durable before it is sent, without waiting for SQLite's commit."""

from __future__ import annotations

import asyncio
import signal
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from mats.model import OrderRef, OrderState, OrderStatus, StrategyId
from mats.store import Journal
from mats.store.journal import Durability

CHILD = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from datetime import UTC, datetime
    import structlog
    from mats.model import OrderState, OrderStatus
    from mats.store import Journal

    async def main() -> None:
        structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=sys.stderr))
        journal = await Journal(sys.argv[1]).open()
        for n in range(3):
            status = OrderStatus(
                order_ref=f"mats:pulse:{n:026d}", strategy_id="pulse", symbol="AAPL",
                state=OrderState.PENDING, qty=5.0, remaining=5.0, at=datetime.now(UTC),
            )
            await journal.record_order_intent(status)  # then the order would be sent to IB
        print("sent", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)  # before the loop ever queues the SQLite rows

    asyncio.run(main())
    """
)


def pending(n: int, state: OrderState = OrderState.PENDING) -> OrderStatus:
    return OrderStatus(
        order_ref=OrderRef(f"mats:pulse:{n:026d}"),
        strategy_id=StrategyId("pulse"),
        symbol="AAPL",
        state=state,
        qty=5.0,
        remaining=5.0,
        at=datetime.now(UTC),
    )


async def test_orders_sent_just_before_a_sigkill_are_journaled_on_restart_exactly_once(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.sqlite"
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        str(path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert child.stdout is not None
    assert await asyncio.wait_for(child.stdout.readline(), 30) == b"sent\n"
    assert await asyncio.wait_for(child.wait(), 30) == -signal.SIGKILL

    for _ in range(2):  # a second open (say, a crash right after the first) folds nothing twice
        async with Journal(path) as journal:
            orders = await journal.current_orders()
            log = await journal.orders_since(0)
        assert [(o.order_ref, o.state, o.qty) for o in orders] == [
            (f"mats:pulse:{n:026d}", OrderState.PENDING, 5.0) for n in range(3)
        ]
        assert len(log) == 3
    assert (tmp_path / "journal.sqlite.intents").read_bytes() == b""


async def test_an_event_queued_right_after_the_intent_lands_after_it(tmp_path: Path) -> None:
    async with Journal(tmp_path / "journal.sqlite") as journal:
        await journal.record_order_intent(pending(1))
        # a refusal in the same handler, before the loop has queued the intent's row
        await journal.record_order_event(pending(1, OrderState.REJECTED))
        [order] = await journal.current_orders()
        log = await journal.orders_since(0)
    assert order.state is OrderState.REJECTED
    assert list(log["status"]) == [OrderState.PENDING.value, OrderState.REJECTED.value]


async def test_the_intent_log_is_emptied_once_every_intent_is_committed(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    intents = tmp_path / "journal.sqlite.intents"
    async with Journal(path) as journal:
        journal._intents.truncate_above = 1_000  # a few intents' worth
        for n in range(20):
            await journal.record_order_intent(pending(n))
        assert len(intents.read_bytes().rstrip(b"\0")) > 1_000  # durable in the file before any commit
        # queued behind all 20, so answered after them: their done-callbacks have run when this returns
        await journal.record_order_event(pending(99))
        assert intents.read_bytes().rstrip(b"\0") == b""
        assert len(await journal.current_orders()) == 21


async def test_a_torn_last_intent_is_skipped_and_the_rest_are_folded_in(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    async with Journal(path):
        pass
    whole = b"".join(msgspec.json.encode(pending(n)) + b"\n" for n in range(2))  # what two appends leave
    (tmp_path / "journal.sqlite.intents").write_bytes(whole + b'{"order_ref":"mats:pulse:0')
    async with Journal(path) as journal:
        orders = await journal.current_orders()
    assert [o.order_ref for o in orders] == [f"mats:pulse:{n:026d}" for n in range(2)]


async def test_full_durability_waits_for_the_fsynced_commit_instead(tmp_path: Path) -> None:
    async with Journal(tmp_path / "journal.sqlite", durability=Durability.FULL) as journal:
        await journal.record_order_intent(pending(1))
        assert (tmp_path / "journal.sqlite.intents").read_bytes().rstrip(b"\0") == b""  # never written
        [order] = await journal.current_orders()  # already committed when the call returned
    assert order.state is OrderState.PENDING


async def test_intents_beyond_the_mapped_capacity_are_all_kept(tmp_path: Path) -> None:
    """The journal thread far behind: the mapped file grows rather than refusing or overwriting."""
    path = tmp_path / "journal.sqlite"
    async with Journal(path) as journal:
        journal._intents._map.resize(4096)  # type: ignore[union-attr]  # one page: the next appends overflow it
        for n in range(40):
            await journal.record_order_intent(pending(n))
        assert len(journal._intents.read()) == 40  # all of them in the file before any commit
        await journal.record_order_event(pending(99))
        assert len(await journal.current_orders()) == 41
