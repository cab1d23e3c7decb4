"""The namespace lease: one engine per namespace of a store, checked at start-up and renewed while it runs.

Two engines writing one namespace would both append to ``{account}/fills`` and rewrite
``general/strategies``, and ArcticDB loses data silently with two writers on one symbol. So an engine claims
its namespace with a row in ``general/engine_lease`` (engine id, host, pid, account, data dir) and renews it
every ``ttl / 3``. A second engine refuses to start while that lease is held and fresh. A lease is taken
over, loudly, when its engine released it, when its pid is gone on this same host (a crash), or when it was
not renewed within ``ttl`` (a crash elsewhere). ArcticDB has no compare-and-swap, so this is a guard
against an operator's mistake (two configs with one namespace), not a distributed lock: two engines started
in the same instant could both win; the claim is read back to narrow that window.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from typing import Literal

import msgspec
import pandas as pd
import structlog

from mats.store.arctic import ArcticStore, StoreError

log = structlog.get_logger(__name__)

GENERAL = "general"
LEASE_SYMBOL = "engine_lease"
DEFAULT_TTL = 90.0


class EngineLease(msgspec.Struct, frozen=True):
    engine_id: str
    host: str
    pid: int
    account: str
    data_dir: str
    started_at: float  # epoch seconds
    renewed_at: float
    state: Literal["held", "released"] = "held"

    def describe(self) -> str:
        age = time.time() - self.renewed_at
        return (
            f"engine {self.engine_id} (host {self.host}, pid {self.pid}, account {self.account or '?'}, "
            f"data_dir {self.data_dir}), renewed {age:.0f} s ago"
        )


class NamespaceInUse(StoreError):
    """Another engine holds this namespace of the store; starting a second writer would lose data."""


class AccountInUse(NamespaceInUse):
    """An engine in another namespace of the store trades this account: each would book the other's fills
    as Discretionary and neither reconciliation would balance."""


def new_lease(account: str, data_dir: str) -> EngineLease:
    now = time.time()
    return EngineLease(
        engine_id=uuid.uuid4().hex[:12],
        host=socket.gethostname(),
        pid=os.getpid(),
        account=account,
        data_dir=data_dir,
        started_at=now,
        renewed_at=now,
    )


def takeover_reason(held: EngineLease, mine: EngineLease, ttl: float, now: float) -> str | None:
    """Why ``held`` may be taken over by ``mine`` (None: it may not; the namespace is in use)."""
    if held.engine_id == mine.engine_id:
        return "ours"
    if held.state == "released":
        return "released"
    if held.host == mine.host and held.pid != mine.pid and not _pid_alive(held.pid):
        return f"pid {held.pid} is gone on this host"
    if now - held.renewed_at > ttl:
        return f"not renewed for {now - held.renewed_at:.0f} s (ttl {ttl:.0f} s)"
    return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


async def read_lease(store: ArcticStore) -> EngineLease | None:
    metadata = await store.read_metadata(GENERAL, LEASE_SYMBOL)
    if not metadata:
        return None
    try:
        return msgspec.convert(metadata, EngineLease)
    except msgspec.ValidationError as exc:
        log.warning("lease.unreadable", error=str(exc), kept="treated as no lease")
        return None


async def write_lease(store: ArcticStore, lease: EngineLease) -> None:
    """One row (readable on the Data page) plus the same fields as metadata (what ``read_lease`` reads)."""
    row = msgspec.to_builtins(lease)
    frame = pd.DataFrame([row], index=pd.DatetimeIndex([pd.Timestamp(lease.renewed_at, unit="s", tz="UTC")]))
    await store.write(GENERAL, LEASE_SYMBOL, frame, metadata=row)


async def claim(store: ArcticStore, mine: EngineLease, *, ttl: float = DEFAULT_TTL) -> EngineLease:
    """Claim the store's namespace for this engine or raise NamespaceInUse naming the engine holding it."""
    held = await read_lease(store)
    if held is not None:
        reason = takeover_reason(held, mine, ttl, time.time())
        if reason is None:
            log.error("lease.refused", namespace=store.namespace, holder=held.describe())
            raise NamespaceInUse(_refusal(store, held))
        if reason not in ("ours", "released"):
            log.warning(
                "lease.taken_over", namespace=store.namespace, previous=held.describe(), reason=reason
            )
    if mine.account:
        await _check_account_free(store, mine, ttl)
    await write_lease(store, mine)
    back = await read_lease(store)
    if back is not None and back.engine_id != mine.engine_id:  # another engine claimed it in between
        raise NamespaceInUse(_refusal(store, back))
    log.info("lease.claimed", namespace=store.namespace, engine_id=mine.engine_id, account=mine.account)
    return mine


async def _check_account_free(store: ArcticStore, mine: EngineLease, ttl: float) -> None:
    """Refuse when a live engine in another namespace of this store already trades ``mine.account``."""
    now = time.time()
    for namespace in await store.list_namespaces():
        if namespace == store.namespace:
            continue
        async with ArcticStore(store.uri, namespace) as neighbour:
            held = await read_lease(neighbour)
        if (
            held is not None
            and held.account == mine.account
            and takeover_reason(held, mine, ttl, now) is None
        ):
            log.error(
                "lease.account_in_use", account=mine.account, namespace=namespace, holder=held.describe()
            )
            raise AccountInUse(
                f"account {mine.account} is already traded by {held.describe()} in namespace {namespace!r} "
                f"of {store.uri.split('?')[0]}; run one engine per account"
            )


async def renew_forever(store: ArcticStore, mine: EngineLease, *, ttl: float = DEFAULT_TTL) -> None:
    """Renew every ``ttl / 3``; a failed renewal is logged (the journal keeps trading safe), never fatal."""
    lease = mine
    while True:
        await asyncio.sleep(ttl / 3)
        try:
            held = await read_lease(store)
            if held is not None and held.engine_id != mine.engine_id:
                log.error(
                    "lease.lost",
                    namespace=store.namespace,
                    holder=held.describe(),
                    hint="two engines now write this namespace; stop one of them",
                )
                return
            lease = msgspec.structs.replace(lease, renewed_at=time.time())
            await write_lease(store, lease)
        except Exception as exc:
            log.warning("lease.renew_failed", namespace=store.namespace, error=repr(exc))


async def release(store: ArcticStore, mine: EngineLease) -> None:
    """Mark the lease released (kept as a row: who ran here last), unless another engine holds it now."""
    held = await read_lease(store)
    if held is not None and held.engine_id != mine.engine_id:
        return
    await write_lease(store, msgspec.structs.replace(mine, renewed_at=time.time(), state="released"))
    log.info("lease.released", namespace=store.namespace, engine_id=mine.engine_id)


def _refusal(store: ArcticStore, held: EngineLease) -> str:
    space = repr(store.namespace) if store.namespace else "the default (empty) namespace"
    return (
        f"namespace {space} of {store.uri.split('?')[0]} is held by {held.describe()}; "
        "give this engine its own [storage] namespace (one per account), or stop the other engine first"
    )
