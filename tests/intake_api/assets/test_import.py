"""`aftersales assets import` on a real database: CSV, YAML and JSON, all or nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner, Result

from core.database import create_engine, session_factory
from core.settings import get_settings
from intake_api.assets import service
from intake_api.assets.models import Asset, AssetRead
from intake_api.cli import app
from intake_api.pagination import PageRequest
from tests.intake_api.assets.support import store_kb, unit

CSV_HEADER = (
    "serial,product_id,customer_name,customer_phone,customer_tier,contact_channel,"
    "contact_sender_id,site_address,site_region,warranty_end,installed_at\n"
)


@pytest.fixture
def env(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The CLI's settings point at a database holding the test KB."""
    monkeypatch.setenv("AFTERSALES_DATABASE_URL", database_url)
    monkeypatch.setenv("AFTERSALES_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("AFTERSALES_LOAD_DEMO_KB", "false")
    monkeypatch.chdir(tmp_path)  # no developer .env
    store_kb(database_url)
    get_settings.cache_clear()
    yield database_url
    get_settings.cache_clear()


def assets_cli(*args: str) -> Result:
    return CliRunner().invoke(app, ["assets", *args])


def stored(database_url: str) -> dict[str, AssetRead]:
    async def read() -> dict[str, AssetRead]:
        engine = create_engine(database_url)
        try:
            async with session_factory(engine)() as session:
                everything = PageRequest(500, 0, Asset.serial, descending=False)
                rows, _ = await service.get_all(session, page=everything)
                return {row.serial: AssetRead.of(row) for row in rows}
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_csv_rows_of_one_serial_add_contacts(env: str, tmp_path: Path) -> None:
    path = tmp_path / "units.csv"
    path.write_text(
        CSV_HEADER
        + "SN-1,HX-37,汉霖机械厂,13800000000,key,wechat,o-abc,"
        + "苏州星湖街 1 号,华东,2028-01-31,2025-02-01\n"
        + "SN-1,,,,,telegram,4242,,,,\n"
        + "SN-2,HX-75,Acme,,standard,,,,,,\n",
        encoding="utf-8",
    )
    result = assets_cli("import", str(path))
    assert result.exit_code == 0, result.output
    assert "2 added" in result.output
    units = stored(env)
    first = units["SN-1"]
    assert first.product_id == "HX-37" and first.customer.tier == "key"
    assert [(c.channel, c.sender_id) for c in first.contacts] == [
        ("wechat", "o-abc"),
        ("telegram", "4242"),
    ]
    assert str(first.warranty_end) == "2028-01-31" and first.site.region == "华东"
    assert units["SN-2"].contacts == []


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_yaml_and_json_update_and_replace(env: str, tmp_path: Path, suffix: str) -> None:
    first = tmp_path / f"first{suffix}"
    rows = [unit("SN-1"), unit("SN-2", product_id="HX-75")]
    dump = json.dumps if suffix == ".json" else yaml.safe_dump
    first.write_text(dump({"assets": rows}), encoding="utf-8")
    assert assets_cli("import", str(first)).exit_code == 0
    second = tmp_path / f"second{suffix}"
    second.write_text(dump([unit("SN-1", firmware="2.1")]), encoding="utf-8")
    result = assets_cli("import", str(second), "--replace")
    assert result.exit_code == 0, result.output
    assert "0 added, 1 updated, 1 removed" in result.output
    units = stored(env)
    assert list(units) == ["SN-1"] and units["SN-1"].firmware == "2.1"


def test_errors_name_row_and_field_and_change_nothing(env: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        CSV_HEADER
        + "SN-1,HX-37,A,,key,,,,,,\n"
        + "SN-2,NOPE-1,B,,standard,,,,,,\n"
        + "SN-3,HX-37,C,,vip,,,,,,\n"
        + "SN-4,HX-37,D,,standard,,,,,not-a-date,\n",
        encoding="utf-8",
    )
    result = assets_cli("import", str(path))
    assert result.exit_code == 1
    errors = result.output
    assert "row 3, field product_id" in errors and "NOPE-1" in errors
    assert "row 4, field customer.tier" in errors
    assert "row 5, field warranty_end" in errors
    assert "row 2" not in errors
    assert stored(env) == {}


def test_unknown_csv_column_and_file_type_are_refused(env: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("serial,product_id,colour\nSN-1,HX-37,red\n", encoding="utf-8")
    result = assets_cli("import", str(path))
    assert result.exit_code == 1 and "unknown column(s) colour" in result.output
    other = tmp_path / "units.txt"
    other.write_text("SN-1", encoding="utf-8")
    assert assets_cli("import", str(other)).exit_code == 1
