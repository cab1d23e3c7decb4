"""ArcticStore: the one door to ArcticDB, every call off the loop and one at a time.

ArcticDB serialises its calls behind a process-wide mutex and its library-manager calls hold the GIL during
I/O (stack-notes A2, A5), so more threads buy nothing: every call goes through ``anyio.to_thread.run_sync``
with a ``CapacityLimiter(1)``. One ``Arctic`` per URI per process (opening one LMDB path twice in a process
corrupts or crashes), library handles reused, library and symbol listings cached.

Namespaces: several engines (one per account) may share one store. Each engine has a ``namespace``, a
library-name prefix, so no two engines ever write the same symbol (ArcticDB silently loses data with two
writers on one symbol). ``general`` and the per-account libraries are namespaced; ``market_data`` (one
designated writer, read by everyone) and ``backtests`` (symbols named by unique run ids) are shared and
never prefixed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import anyio
import pandas as pd
import structlog
from arcticdb import Arctic, DataError, LibraryOptions
from arcticdb.version_store.library import (
    Library,
    ReadInfoRequest,
    ReadRequest,
    WritePayload,
)

from mats.thread_priority import lower_this_thread

log = structlog.get_logger(__name__)

T = TypeVar("T")

SHARED_LIBRARIES = frozenset({"market_data", "backtests"})
NAMESPACE_SEPARATOR = "."

# Options per logical library; anything else (per-account libraries) gets ACCOUNT_OPTIONS.
# - prune_previous_versions: the flusher appends every ~100 ms; keeping every version would grow the version
#   chain without bound (list_versions / as_of get slow, stack-notes A7). The journal is our history.
# - dynamic_schema on tables whose columns can grow (orders, strategy_{id}, portfolio, general, backtests):
#   a new column or an int widened to float must not break the next append.
# - market_data is fixed OHLCV: static schema catches a malformed import at append time instead of later.
ACCOUNT_OPTIONS = LibraryOptions(dynamic_schema=True, prune_previous_versions=True)
LIBRARY_OPTIONS: dict[str, LibraryOptions] = {
    "general": LibraryOptions(dynamic_schema=True, prune_previous_versions=True),
    "market_data": LibraryOptions(dynamic_schema=False, prune_previous_versions=True),
    "backtests": LibraryOptions(dynamic_schema=True, prune_previous_versions=False),
}


class StoreError(RuntimeError):
    pass


class BatchError(StoreError):
    """Some symbols of a batch call failed; the others went through (ArcticDB batches are not atomic)."""

    def __init__(self, op: str, library: str, failures: Mapping[str, Any]) -> None:
        self.failures = dict(failures)
        detail = "; ".join(f"{sym}: {err}" for sym, err in self.failures.items())
        super().__init__(
            f"{op} on library {library!r} failed for {sorted(self.failures)} ({detail}); "
            "the other symbols of the batch were written"
        )


# One Arctic per URI per process, shared by every ArcticStore on that URI (an LMDB path opened twice in one
# process corrupts the environment). Reference-counted so tests can close and reopen.
_ARCTICS: dict[str, tuple[Arctic, int]] = {}
_ARCTICS_LOCK = threading.Lock()


def _uri_key(uri: str) -> str:
    if uri.startswith("lmdb://"):
        parts = urlsplit(uri)
        return "lmdb://" + str(Path(parts.netloc + parts.path).resolve())
    return uri


def _acquire(uri: str) -> Arctic:
    key = _uri_key(uri)
    with _ARCTICS_LOCK:
        if key in _ARCTICS:
            ac, refs = _ARCTICS[key]
            _ARCTICS[key] = (ac, refs + 1)
            log.info("arctic.reused", uri=key, refs=refs + 1)
            return ac
        if uri.startswith("lmdb://"):
            Path(key[len("lmdb://") :]).mkdir(parents=True, exist_ok=True)
        ac = Arctic(uri)
        _ARCTICS[key] = (ac, 1)
        return ac


def _release(uri: str) -> None:
    key = _uri_key(uri)
    with _ARCTICS_LOCK:
        if key not in _ARCTICS:
            return
        ac, refs = _ARCTICS[key]
        if refs > 1:
            _ARCTICS[key] = (ac, refs - 1)
        else:
            del _ARCTICS[key]


def default_uri(data_dir: str | Path) -> str:
    return f"lmdb://{Path(data_dir).resolve()}/arctic"


class ArcticStore:
    """Async ArcticDB access for one engine: logical library names, namespaced, one call at a time."""

    def __init__(
        self, uri: str, namespace: str = "", *, listing_ttl: float = 5.0, thread_nice: int = 0
    ) -> None:
        if NAMESPACE_SEPARATOR in namespace or "/" in namespace:
            raise ValueError(f"namespace must not contain {NAMESPACE_SEPARATOR!r} or '/', got {namespace!r}")
        self.uri = uri
        self.namespace = namespace
        self.listing_ttl = listing_ttl
        # The engine's store (storage.thread_nice) lowers the threads that call ArcticDB below the loop's
        # (mats.thread_priority); a command-line tool or a notebook is not trading, and leaves them be.
        self.thread_nice = thread_nice
        self._arctic: Arctic | None = None
        self._limiter = anyio.CapacityLimiter(1)
        self._libraries: dict[str, Library] = {}
        self._library_list: tuple[float, list[str]] | None = None
        self._symbol_lists: dict[str, tuple[float, list[str]]] = {}
        self._log = log.bind(uri=_uri_key(uri).split("?")[0], namespace=namespace)

    # ---- lifecycle --------------------------------------------------------------------------------------

    async def open(self) -> ArcticStore:
        if self._arctic is None:
            self._arctic = await self._call(_acquire, self.uri)
            self._log.info("arctic.opened")
        return self

    async def close(self) -> None:
        if self._arctic is not None:
            self._arctic = None
            self._libraries.clear()
            await self._call(_release, self.uri)
            self._log.info("arctic.closed")

    async def __aenter__(self) -> ArcticStore:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---- names ------------------------------------------------------------------------------------------

    def library_name(self, library: str) -> str:
        """The physical library name: ``{namespace}.{library}`` unless the library is shared."""
        if not self.namespace or library in SHARED_LIBRARIES:
            return library
        return f"{self.namespace}{NAMESPACE_SEPARATOR}{library}"

    def _logical(self, physical: str) -> str | None:
        if physical in SHARED_LIBRARIES:
            return physical
        if not self.namespace:
            return None if NAMESPACE_SEPARATOR in physical else physical
        prefix = f"{self.namespace}{NAMESPACE_SEPARATOR}"
        return physical[len(prefix) :] if physical.startswith(prefix) else None

    # ---- the call path ----------------------------------------------------------------------------------

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        def run() -> T:
            lower_this_thread(self.thread_nice)  # before ArcticDB starts its own threads from this one
            return fn(*args, **kwargs)

        return await anyio.to_thread.run_sync(run, limiter=self._limiter)

    def _exists(self, library: str) -> bool:
        """Whether the library is open or in the store (on the storage thread: it may touch storage)."""
        name = self.library_name(library)
        return name in self._libraries or (self._arctic is not None and self._arctic.has_library(name))

    def _lib(self, library: str, *, create: bool) -> Library:
        """Runs on the storage thread. Creates the library with its deliberate options on first write."""
        if self._arctic is None:
            raise StoreError(f"ArcticStore for {self.uri.split('?')[0]} is not open")
        name = self.library_name(library)
        lib = self._libraries.get(name)
        if lib is not None:
            return lib
        if create:
            options = LIBRARY_OPTIONS.get(library, ACCOUNT_OPTIONS)
            lib = self._arctic.get_library(name, create_if_missing=True, library_options=options)
            self._library_list = None
        else:
            if not self._arctic.has_library(name):
                raise StoreError(f"library {name!r} does not exist in {self.uri.split('?')[0]}")
            lib = self._arctic.get_library(name)
        self._libraries[name] = lib
        return lib

    def _touched(self, library: str) -> None:
        self._symbol_lists.pop(library, None)

    async def open_library(self, library: str) -> None:
        """Create (with its deliberate options) or open a library now, and keep its handle.

        Opening is a library-manager call, which holds the GIL during its storage I/O (stack-notes A5).
        Done at start-up, it never stalls the loop later, and an S3 outage at the first write cannot freeze
        the whole process (writes through a kept handle release the GIL and just wait)."""
        await self._call(lambda: self._lib(library, create=True))

    # ---- writes -----------------------------------------------------------------------------------------

    async def write(
        self,
        library: str,
        symbol: str,
        data: pd.DataFrame,
        metadata: Any = None,
        *,
        prune: bool | None = None,
    ) -> int:
        """Replace a symbol's data; returns the new version."""

        def run() -> int:
            lib = self._lib(library, create=True)
            return int(lib.write(symbol, data, metadata=metadata, prune_previous_versions=prune).version)

        version = await self._call(run)
        self._touched(library)
        return version

    async def append(self, library: str, symbol: str, data: pd.DataFrame, metadata: Any = None) -> int:
        """Append rows (index must start at or after the symbol's last index), metadata stored with them."""

        def run() -> int:
            lib = self._lib(library, create=True)
            return int(lib.append(symbol, data, metadata=metadata).version)

        version = await self._call(run)
        self._touched(library)
        return version

    async def update(
        self, library: str, symbol: str, data: pd.DataFrame, metadata: Any = None, *, upsert: bool = True
    ) -> int:
        """Replace the index span of ``data`` in the symbol (rows inside the span but not in ``data`` go)."""

        def run() -> int:
            lib = self._lib(library, create=True)
            return int(lib.update(symbol, data, metadata=metadata, upsert=upsert).version)

        version = await self._call(run)
        self._touched(library)
        return version

    async def append_batch(
        self, library: str, items: Mapping[str, tuple[pd.DataFrame, Any]]
    ) -> dict[str, int]:
        """Append to several symbols in one call; raises BatchError naming each symbol that failed."""
        symbols = list(items)

        def run() -> list[Any]:
            lib = self._lib(library, create=True)
            payloads = [WritePayload(sym, df, metadata=meta) for sym, (df, meta) in items.items()]
            return list(lib.append_batch(payloads))

        results = await self._call(run)
        self._touched(library)
        return {
            sym: int(r.version)
            for sym, r in zip(symbols, _check_batch("append_batch", library, symbols, results), strict=True)
        }

    async def write_metadata(self, library: str, symbol: str, metadata: Any) -> int:
        def run() -> int:
            return int(self._lib(library, create=True).write_metadata(symbol, metadata).version)

        version = await self._call(run)
        self._touched(library)
        return version

    async def delete(self, library: str, symbol: str) -> None:
        await self._call(lambda: self._lib(library, create=False).delete(symbol))
        self._touched(library)

    async def delete_library(self, library: str) -> None:
        name = self.library_name(library)

        def run() -> None:
            if self._arctic is None:
                raise StoreError("ArcticStore is not open")
            self._libraries.pop(name, None)
            self._arctic.delete_library(name)

        await self._call(run)
        self._library_list = None
        self._touched(library)

    # ---- reads ------------------------------------------------------------------------------------------

    async def read(
        self,
        library: str,
        symbol: str,
        *,
        date_range: tuple[datetime | pd.Timestamp | None, datetime | pd.Timestamp | None] | None = None,
        columns: Sequence[str] | None = None,
        as_of: int | str | datetime | None = None,
    ) -> pd.DataFrame:
        def run() -> pd.DataFrame:
            lib = self._lib(library, create=False)
            cols = list(columns) if columns is not None else None
            return lib.read(symbol, date_range=date_range, columns=cols, as_of=as_of).data

        return await self._call(run)

    async def tail(
        self, library: str, symbol: str, n: int = 5, *, columns: Sequence[str] | None = None
    ) -> pd.DataFrame:
        def run() -> pd.DataFrame:
            cols = list(columns) if columns is not None else None
            return self._lib(library, create=False).tail(symbol, n, columns=cols).data

        return await self._call(run)

    async def read_batch(self, library: str, symbols: Sequence[str]) -> dict[str, pd.DataFrame]:
        """Read several symbols in one call; raises BatchError naming each symbol that failed."""

        def run() -> list[Any]:
            return list(self._lib(library, create=False).read_batch([ReadRequest(s) for s in symbols]))

        results = _check_batch("read_batch", library, symbols, await self._call(run))
        return {sym: r.data for sym, r in zip(symbols, results, strict=True)}

    async def read_metadata(self, library: str, symbol: str) -> Any:
        """The symbol's latest metadata; None if the library or symbol does not exist."""

        def run() -> Any:
            if not self._exists(library):
                return None
            lib = self._lib(library, create=False)
            if not lib.has_symbol(symbol):
                return None
            return lib.read_metadata(symbol).metadata

        return await self._call(run)

    async def read_metadata_batch(self, library: str, symbols: Sequence[str]) -> dict[str, Any]:
        def run() -> list[Any]:
            return list(
                self._lib(library, create=False).read_metadata_batch([ReadInfoRequest(s) for s in symbols])
            )

        results = _check_batch("read_metadata_batch", library, symbols, await self._call(run))
        return {sym: r.metadata for sym, r in zip(symbols, results, strict=True)}

    async def has_symbol(self, library: str, symbol: str) -> bool:
        # ArcticDB's own check, not a listing: the first listing of a new library holds the GIL ~1 s.
        def run() -> bool:
            return self._exists(library) and bool(self._lib(library, create=False).has_symbol(symbol))

        return await self._call(run)

    # ---- listings (cached: they hold the GIL during storage I/O) ----------------------------------------

    async def list_libraries(self, *, refresh: bool = False) -> list[str]:
        """Logical names of the libraries this engine sees: its own namespace plus the shared ones."""
        cached = self._library_list
        if cached is not None and not refresh and time.monotonic() - cached[0] < self.listing_ttl:
            return list(cached[1])

        def run() -> list[str]:
            if self._arctic is None:
                raise StoreError("ArcticStore is not open")
            return list(self._arctic.list_libraries())

        names = sorted(n for n in (self._logical(p) for p in await self._call(run)) if n is not None)
        self._library_list = (time.monotonic(), names)
        return list(names)

    async def list_namespaces(self) -> list[str]:
        """Every namespace with a library in the store ("" for un-prefixed ones, shared libraries aside):
        the engines sharing it, so one can check its neighbours (``mats.store.lease``)."""

        def run() -> list[str]:
            if self._arctic is None:
                raise StoreError("ArcticStore is not open")
            return list(self._arctic.list_libraries())

        physical = [p for p in await self._call(run) if p not in SHARED_LIBRARIES]
        return sorted(
            {p.split(NAMESPACE_SEPARATOR, 1)[0] if NAMESPACE_SEPARATOR in p else "" for p in physical}
        )

    async def list_symbols(self, library: str, *, refresh: bool = False) -> list[str]:
        cached = self._symbol_lists.get(library)
        if cached is not None and not refresh and time.monotonic() - cached[0] < self.listing_ttl:
            return list(cached[1])

        def run() -> list[str]:
            if not self._exists(library):
                return []
            return sorted(self._lib(library, create=False).list_symbols())

        symbols = await self._call(run)
        self._symbol_lists[library] = (time.monotonic(), symbols)
        return list(symbols)

    # ---- maintenance ------------------------------------------------------------------------------------

    async def compact(self, library: str, symbol: str) -> None:
        """Merge a symbol's small appended segments and drop old versions (reads get fast again)."""

        def run() -> None:
            self._lib(library, create=False).compact_data(symbol, prune_previous_versions=True)

        started = time.perf_counter()
        await self._call(run)
        self._log.info(
            "arctic.compacted",
            library=library,
            symbol=symbol,
            ms=round((time.perf_counter() - started) * 1e3, 1),
        )


def _check_batch(op: str, library: str, symbols: Sequence[str], results: Sequence[Any]) -> list[Any]:
    failures = {sym: r for sym, r in zip(symbols, results, strict=True) if isinstance(r, DataError)}
    if failures:
        raise BatchError(op, library, failures)
    return list(results)
