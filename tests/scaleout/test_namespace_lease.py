"""The namespace lease: a second engine on a namespace in use is refused with who holds it; a lease left
by a crashed engine (pid gone on this host, or not renewed within its ttl elsewhere) is taken over loudly."""

from __future__ import annotations

import subprocess
import sys
import time

import msgspec
import pytest
from structlog.testing import capture_logs

from mats.store import ArcticStore
from mats.store.lease import (
    EngineLease,
    NamespaceInUse,
    claim,
    new_lease,
    read_lease,
    takeover_reason,
    write_lease,
)

TTL = 90.0


def lease_elsewhere(renewed_ago: float, **changes: object) -> EngineLease:
    lease = new_lease("DU0000001", "/srv/mats/acct1")
    lease = msgspec.structs.replace(
        lease, host="research-box-2", pid=4242, renewed_at=time.time() - renewed_ago
    )
    return msgspec.structs.replace(lease, **changes)


def a_dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_fresh_lease_of_another_engine_may_not_be_taken_but_a_stale_released_or_orphaned_one_may() -> None:
    mine, now = new_lease("DU0000001", "/srv/mats/acct1"), time.time()
    assert takeover_reason(lease_elsewhere(10), mine, TTL, now) is None
    assert takeover_reason(lease_elsewhere(10, state="released"), mine, TTL, now) == "released"
    assert "not renewed for 200 s" in str(takeover_reason(lease_elsewhere(200), mine, TTL, now))
    crashed_here = lease_elsewhere(10, host=mine.host, pid=a_dead_pid())
    assert "is gone on this host" in str(takeover_reason(crashed_here, mine, TTL, now))
    alive_here = lease_elsewhere(10, host=mine.host, pid=1)  # pid 1 always runs
    assert takeover_reason(alive_here, mine, TTL, now) is None


async def test_a_namespace_held_on_another_host_is_refused_and_taken_over_once_its_lease_is_stale(
    s3_uri: str,
) -> None:
    async with ArcticStore(s3_uri, namespace="acct1") as store:
        holder = lease_elsewhere(10)
        await write_lease(store, holder)
        mine = new_lease("DU0000001", "/srv/mats/acct1-new")
        with pytest.raises(NamespaceInUse, match=r"held by engine \w+ \(host research-box-2, pid 4242"):
            await claim(store, mine, ttl=TTL)
        assert await read_lease(store) == holder  # the refused engine wrote nothing

        await write_lease(store, lease_elsewhere(300))
        with capture_logs() as logs:
            await claim(store, mine, ttl=TTL)
        assert await read_lease(store) == mine
    [warning] = [e for e in logs if e["event"] == "lease.taken_over"]
    assert "research-box-2" in warning["previous"] and "not renewed" in warning["reason"]
