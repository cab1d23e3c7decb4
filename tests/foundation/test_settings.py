"""Bad settings are refused with one clear error naming the key, before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from mats.config import SettingsError, load_settings, redact_uri

GOOD = """
data_dir = "/tmp/mats-test"
base_currency = "USD"
[ib]
host = "127.0.0.1"
port = 4002
master_client_id = 99
account = "DU0000001"
[web]
port = 8123
[risk]
max_order_qty = 500
[[strategies]]
strategy_id = "sma_aapl"
cls = "strategies.sma_cross:SmaCross"
symbols = ["AAPL", {symbol = "ES", sec_type = "FUT", exchange = "CME", currency = "USD", expiry = "202612"}]
params = { fast = 10, slow = 50, qty = 10 }
target_weight = 0.1
autostart = true
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mats.toml"
    path.write_text(text)
    return path


def test_the_documented_settings_file_loads_into_frozen_settings(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, GOOD), environ={})
    assert (settings.ib.port, settings.ib.master_client_id, settings.web.port) == (4002, 99, 8123)
    assert settings.risk.max_order_qty == 500 and settings.risk.max_order_notional == 1_000_000.0
    spec = settings.strategies[0]
    assert (spec.strategy_id, spec.params["fast"], spec.autostart) == ("sma_aapl", 10, True)
    assert settings.resolved_arctic_uri == "lmdb:///tmp/mats-test/arctic"
    with pytest.raises(AttributeError):
        settings.ib.port = 1  # type: ignore[misc]


def test_environment_overrides_the_file_and_is_converted_by_the_schema(tmp_path: Path) -> None:
    env = {
        "MATS_IB_PORT": "7496",
        "MATS_WEB_HOST": "0.0.0.0",
        "MATS_DATA_DIR": "/srv/mats",
        "MATS_API_TOKEN": "x",
    }
    settings = load_settings(write(tmp_path, GOOD), environ=env)
    assert settings.ib.port == 7496 and settings.web.host == "0.0.0.0" and settings.data_dir == "/srv/mats"
    assert settings.ib.master_client_id == 99  # untouched keys keep the file's values


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ('[ib]\nport = "7497"', {}, "ib.port: Expected `int`, got `str`"),
        ("[ib]\nprot = 7497", {}, "unknown key 'ib.prot'"),
        ("colour = 1", {}, "unknown key 'colour'"),
        ("[ib]\nport = 70000", {}, "ib.port: Expected `int` <= 65535"),
        ('[ib]\naccount = "U1234567"', {}, "ib.account: account 'U1234567' is not a paper"),
        ('base_currency = "usd"', {}, "base_currency"),
        (
            '[[strategies]]\nstrategy_id = "a"\ncls = "strategies.x:X"\ntarget_weight = 1.5',
            {},
            "strategies[0]",
        ),
        (
            '[[strategies]]\nstrategy_id = "a"\ncls = "strategies.x:X"\nweight = 1',
            {},
            "'strategies[0].weight'",
        ),
        ("", {"MATS_IB_PORT": "seven"}, "MATS_IB_PORT (ib.port): Expected `int`, got `str`"),
        ("", {"MATS_IB_PROT": "1"}, "MATS_IB_PROT: unknown setting"),
        ("[ib\n", {}, "not valid TOML"),
    ],
)
def test_bad_settings_are_refused_naming_the_key(
    tmp_path: Path, text: str, env: dict[str, str], expected: str
) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(write(tmp_path, text), environ=env)
    assert expected in str(refused.value)
    assert "\n" not in str(refused.value)  # one line


def test_a_live_account_is_accepted_only_with_live_true(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, '[ib]\naccount = "U1234567"\nlive = true'), environ={})
    assert settings.ib.account == "U1234567"


def test_missing_settings_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"nope\.toml: settings file not found"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_credentials_in_the_store_uri_are_masked() -> None:
    uri = "s3://127.0.0.1:bucket?port=9000&access=AKIA&secret=sup3r&region=us-east-1"
    assert redact_uri(uri) == "s3://127.0.0.1:bucket?port=9000&access=***&secret=***&region=us-east-1"
