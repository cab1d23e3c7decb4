"""Settings: ``mats.toml`` (or ``--config FILE``) plus ``MATS_*`` environment overrides.

Everything is validated into frozen msgspec Structs before anything starts; an unknown key or a bad
value is refused with a message naming the key (``ib.port: expected int, got str``).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from mats.model import StrategySpec, check_daily_loss_steps
from mats.thread_priority import BACKGROUND_NICE
from mats.validation import locate

Port = Annotated[int, Meta(ge=0, le=65535)]
ClientId = Annotated[int, Meta(ge=0, le=2**31 - 1)]
NonNegative = Annotated[float, Meta(ge=0.0)]
Currency = Annotated[str, Meta(pattern="^[A-Z]{3}$")]

DEFAULT_CONFIG_FILE = Path("mats.toml")
OVERLAY_FILE = "settings.json"  # changes made through the API, in the data directory

# MATS_* variables that are not settings but are read by other parts (tokens, test crash points).
NON_SETTING_ENV = frozenset({"MATS_API_TOKEN", "MATS_CRASH_AT", "MATS_CRASH_AT_FILE", "MATS_CONFIG"})


class SettingsError(ValueError):
    """A settings file or environment variable that cannot be used; the message names the key."""


class _Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


class IBSettings(_Section, frozen=True):
    host: str = "127.0.0.1"
    port: Port = 7497
    master_client_id: ClientId = 99
    max_clients: Annotated[int, Meta(ge=2, le=99)] = 32
    live: bool = False
    account: str = ""
    connect_timeout: Annotated[float, Meta(gt=0)] = 10.0
    request_timeout: Annotated[float, Meta(gt=0)] = 30.0


class WebSettings(_Section, frozen=True):
    host: str = "127.0.0.1"
    port: Port = 8000


class RiskSettings(_Section, frozen=True):
    """Pre-trade limits for every strategy; a strategy's own ``risk`` table may tighten them. 0 = off."""

    max_order_qty: NonNegative = 10000
    max_order_notional: NonNegative = 1_000_000.0
    price_collar_pct: NonNegative = 0.0  # a limit/stop price this many % from the last price is refused
    max_position: NonNegative = 0.0  # |position| per contract, per strategy, counting its working orders
    max_open_orders: Annotated[int, Meta(ge=0)] = 0  # per strategy
    max_orders_per_minute: Annotated[int, Meta(ge=0)] = 0  # per strategy, over the last 60 s
    daily_loss_limit: NonNegative = 0.0  # per strategy, in base currency: then reducing-only
    daily_loss_halt: NonNegative = 0.0  # per strategy, in base currency: then halted (kill switch)

    def __post_init__(self) -> None:
        check_daily_loss_steps(self.daily_loss_limit, self.daily_loss_halt)


class StorageSettings(_Section, frozen=True):
    namespace: str = ""  # library-name prefix, so several engines can share one store
    journal_synchronous: Literal["NORMAL", "FULL"] = "NORMAL"
    flush_interval_ms: Annotated[int, Meta(ge=1)] = 250
    # the nice value of the threads that call ArcticDB, so they yield the CPU to the loop (0: leave them)
    thread_nice: Annotated[int, Meta(ge=0, le=19)] = BACKGROUND_NICE


class LogSettings(_Section, frozen=True):
    format: Literal["console", "json"] = "console"
    level: Literal["debug", "info", "warning", "error"] = "info"


class Settings(_Section, frozen=True):
    data_dir: str = ".mats"
    arctic_uri: str = ""  # empty: lmdb://{data_dir}/arctic
    base_currency: Currency = "USD"
    daily_pnl_reset: Annotated[str, Meta(pattern=r"^\d{2}:\d{2}$")] = "17:00"
    daily_pnl_tz: str = "America/New_York"
    ib: IBSettings = msgspec.field(default_factory=IBSettings)
    web: WebSettings = msgspec.field(default_factory=WebSettings)
    risk: RiskSettings = msgspec.field(default_factory=RiskSettings)
    storage: StorageSettings = msgspec.field(default_factory=StorageSettings)
    log: LogSettings = msgspec.field(default_factory=LogSettings)
    strategies: list[StrategySpec] = msgspec.field(default_factory=list)

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for spec in self.strategies:
            if spec.strategy_id in seen:
                raise ValueError(f"strategies: strategy_id {spec.strategy_id!r} is declared twice")
            seen.add(spec.strategy_id)
        try:
            check_account_allowed(self.ib.account, live=self.ib.live)
        except ValueError as exc:
            raise ValueError(f"ib.account: {exc}") from None

    @property
    def resolved_arctic_uri(self) -> str:
        if self.arctic_uri:
            return self.arctic_uri
        return f"lmdb://{Path(self.data_dir).resolve() / 'arctic'}"


def check_account_allowed(account: str, *, live: bool) -> None:
    """Paper accounts start with DU; anything else trades real money and needs ``live = true``."""
    if account and not account.startswith("DU") and not live:
        raise ValueError(f"account {account!r} is not a paper (DU…) account; set ib.live = true to trade it")


def _section_fields() -> dict[str, set[str]]:
    return {
        name: set(field_type.__struct_fields__)
        for name, field_type in (
            ("ib", IBSettings),
            ("web", WebSettings),
            ("risk", RiskSettings),
            ("storage", StorageSettings),
            ("log", LogSettings),
        )
    }


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """``MATS_IB_PORT=7496`` → ``{"ib": {"port": "7496"}}``; values are converted with the schema later."""
    sections = _section_fields()
    top_level = set(Settings.__struct_fields__) - set(sections) - {"strategies"}
    out: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith("MATS_") or name in NON_SETTING_ENV:
            continue
        key = name[len("MATS_") :].lower()
        if key in top_level:
            out[key] = value
            continue
        for section, fields in sections.items():
            if key.startswith(section + "_") and key[len(section) + 1 :] in fields:
                out.setdefault(section, {})[key[len(section) + 1 :]] = value
                break
        else:
            raise SettingsError(f"{name}: unknown setting (no key {key!r} in the settings schema)")
    return out


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


def _explain(error: msgspec.ValidationError, origin: str) -> str:
    """``mats.toml: ib.port: Expected `int`, got `str``` or ``mats.toml: unknown key 'ib.prot'``."""
    key, problem = locate(error)
    if problem == "unknown field":
        return f"{origin}: unknown key {key!r}"
    return f"{origin}: {key}: {problem}" if key else f"{origin}: {problem}"


def load_settings(
    path: str | Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Read the settings file (default ``./mats.toml`` if present), then ``MATS_*``, then overrides."""
    env = os.environ if environ is None else environ
    if path is None and env.get("MATS_CONFIG"):
        path = env["MATS_CONFIG"]
    raw: dict[str, Any] = {}
    origin = "settings"
    if path is not None or DEFAULT_CONFIG_FILE.exists():
        file = Path(path) if path is not None else DEFAULT_CONFIG_FILE
        origin = str(file)
        try:
            raw = tomllib.loads(file.read_text())
        except FileNotFoundError as exc:
            raise SettingsError(f"{file}: settings file not found") from exc
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{file}: not valid TOML: {exc}") from exc
    file_settings = _convert(raw, origin, strict=True)  # the file is typed TOML: no string coercion
    env_raw = _env_overrides(env)
    merged = _merge(msgspec.to_builtins(file_settings), env_raw)
    data_dir = (overrides or {}).get("data_dir") or merged.get("data_dir", ".mats")
    overlay = read_overlay(data_dir)
    if overlay:  # changes made through the API sit between the file and the environment
        merged = _merge(_merge(msgspec.to_builtins(file_settings), overlay), env_raw)
    if overrides:
        merged = _merge(merged, overrides)
    try:
        return msgspec.convert(merged, Settings, strict=False)
    except msgspec.ValidationError as exc:
        message = _explain(exc, origin)
        for section, values in env_raw.items():  # name the variable when the bad value came from it
            keys = values if isinstance(values, dict) else {"": values}
            for key in keys:
                dotted = f"{section}.{key}" if key else section
                if f": {dotted}:" in message:
                    var = "MATS_" + dotted.replace(".", "_").upper()
                    message = message.replace(f"{origin}: {dotted}:", f"{var} ({dotted}):")
        raise SettingsError(message) from None


def read_overlay(data_dir: str | Path) -> dict[str, Any]:
    path = Path(data_dir) / OVERLAY_FILE
    if not path.exists():
        return {}
    try:
        overlay = msgspec.json.decode(path.read_bytes())
    except msgspec.DecodeError as exc:
        raise SettingsError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(overlay, dict):
        raise SettingsError(f"{path}: expected an object of settings")
    return overlay


def apply_changes(current: Settings, changes: Mapping[str, Any]) -> Settings:
    """Validate a partial change (as sent to ``PUT /api/settings``) against the whole schema."""
    if "strategies" in changes:
        raise SettingsError("strategies: change strategies through /api/strategies, not settings")
    return _convert(_merge(msgspec.to_builtins(current), changes), "settings", strict=False)


def write_overlay(data_dir: str | Path, changes: Mapping[str, Any]) -> None:
    """Persist API changes next to the data, merged with earlier ones; written atomically."""
    path = Path(data_dir) / OVERLAY_FILE
    merged = _merge(read_overlay(data_dir), changes)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(msgspec.json.format(msgspec.json.encode(merged), indent=2))
    tmp.replace(path)


def _convert(raw: Mapping[str, Any], origin: str, *, strict: bool) -> Settings:
    try:
        return msgspec.convert(raw, Settings, strict=strict)
    except msgspec.ValidationError as exc:
        raise SettingsError(_explain(exc, origin)) from None


def redacted(settings: Settings) -> dict[str, Any]:
    """Settings as plain data with credentials inside URIs masked (for logs and the API)."""
    data = msgspec.to_builtins(settings)
    data["arctic_uri"] = redact_uri(settings.resolved_arctic_uri)
    return data


_SECRET_IN_URI = re.compile(r"(?P<key>access|secret|aws_secret_access_key|password|token)=[^&;]*", re.I)


def redact_uri(uri: str) -> str:
    return _SECRET_IN_URI.sub(lambda m: f"{m.group('key')}=***", uri)
