"""The engine SIGKILLed twenty times in a row while it trades (issues #12 and #8): at every named crash point
and at random moments, restarted each time on the same journal and store. After every restart no fill is
lost or doubled (the engine's fills and ArcticDB against the simulator's executions, with commissions),
positions, open orders and equity are rebuilt from IB and the journal, and no order reached IB twice.

The schedule and the random moments come from a seeded RNG: a failure names its seed, and
``CRASH_LOOP_SEED=<seed>`` replays the same schedule.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from pathlib import Path

import pytest

from live.support import stopped_sim
from mats.store.crashpoints import FILE_ENV_VAR, MID_RECONCILE, NAMES

from .support import SETTINGS, EngineLife, api, assert_rebuilt

KILLS = 20
RANDOM = "random"  # a SIGKILL from outside at a random moment while bars and orders flow


def schedule(rng: random.Random) -> list[str]:
    """Every named crash point three times and five random kills, in a shuffled order."""
    points = [*NAMES * 3, *[RANDOM] * (KILLS - 3 * len(NAMES))]
    rng.shuffle(points)
    return points


@pytest.mark.ib_client_errors_expected
@pytest.mark.timeout(300)
async def test_twenty_kills_while_trading_never_lose_double_or_resend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed = int(os.environ.get("CRASH_LOOP_SEED") or random.randrange(2**32))
    rng = random.Random(seed)
    armed = tmp_path / "crash_at"  # the running engine dies at the point this file names
    monkeypatch.setenv(FILE_ENV_VAR, str(armed))
    started = time.monotonic()
    start_ups: list[float] = []
    async with stopped_sim() as sim:
        sim.control.set_price("AAPL", 180.0)
        sim.control.set_price("MSFT", 410.0)
        config, log = tmp_path / "mats.toml", tmp_path / "engine.log"
        config.write_text(SETTINGS.format(data=tmp_path / "data", port=sim.port))
        life = await EngineLife.start(config, log)
        try:
            for n, point in enumerate(schedule(rng), 1):
                context = f"kill {n}/{KILLS} at {point} (CRASH_LOOP_SEED={seed})"
                if point == RANDOM:
                    trading = asyncio.create_task(life.trade(sim, bars=100))
                    await asyncio.wait([trading], timeout=rng.uniform(0.0, 1.5))  # the random moment
                    life.process.kill()
                    await trading
                elif point == MID_RECONCILE:
                    armed.write_text(point)
                    with pytest.raises(OSError):  # the engine dies mid-request
                        await api(life.url, life.token, "/api/portfolio/reconcile", method="POST")
                else:
                    armed.write_text(point)
                    await life.trade(sim, bars=10)
                code = await life.killed(sim, context)
                assert code == -9, f"{context}: the engine was not killed there (exit {code})"
                armed.unlink(missing_ok=True)

                began = time.monotonic()
                life = await EngineLife.start(config, log)  # the same data directory: journal and store
                start_ups.append(time.monotonic() - began)
                await assert_rebuilt(life, sim, context)
        finally:
            await life.stop()
        executions = len(sim.control.executions())
    print(
        f"crash loop: {KILLS} kills in {time.monotonic() - started:.1f}s, seed {seed}, {executions} fills, "
        f"start-up median {sorted(start_ups)[len(start_ups) // 2]:.2f}s max {max(start_ups):.2f}s"
    )
    assert executions >= KILLS // 2, "the engine hardly traded between kills: the loop proves little"
