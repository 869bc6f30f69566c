"""`aftersales kb import | validate | stats | export` on a real database (SQLite, PostgreSQL)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner, Result

from core.settings import get_settings
from intake_api.cli import app

PRODUCTS = "version: 1\nproducts:\n  - {id: P1, name: Pump}\n  - {id: P2, name: Fan}\n"
FAULTS = "version: 1\nfaults:\n  - {id: F1, title: Leak, symptoms: [water], products: [P1]}\n"


@pytest.fixture
def env(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict]:
    """The CLI's settings point at a fresh database and a data dir under tmp_path."""
    values = {
        "AFTERSALES_DATABASE_URL": database_url,
        "AFTERSALES_DATA_DIR": str(tmp_path / "data"),
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)  # no developer .env
    get_settings.cache_clear()
    yield values
    get_settings.cache_clear()


def kb(*args: str) -> Result:
    return CliRunner().invoke(app, ["kb", *args])


def stats() -> dict[str, Any]:
    result = kb("stats", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_import_prints_the_report_and_a_second_import_changes_nothing(
    env: dict, sample_kb: Path
) -> None:
    sample = str(sample_kb)
    first = kb("import", sample)
    assert first.exit_code == 0, first.output
    assert "faults" in first.stdout and "revision 1" in first.stdout
    assert "Search index updated." in first.stdout  # knowledge_base.service.on_kb_changed ran
    assert any((Path(env["AFTERSALES_DATA_DIR"]) / "index").iterdir())
    after_first = stats()
    assert after_first["nodes"]["faults"] == 12 and after_first["revision"] == 1
    second = kb("import", sample)
    assert second.exit_code == 0
    assert "Nothing changed" in second.stdout
    assert stats() == after_first


def test_failed_import_prints_every_error_exits_1_and_changes_nothing(
    env: dict, tmp_path: Path
) -> None:
    assert kb("import", str(write(tmp_path / "ok.yaml", PRODUCTS))).exit_code == 0
    before = stats()
    folder = tmp_path / "broken"
    write(folder / "a.yaml", "version: 1\nproducts:\n  - {id: P3, name: New}\n")
    faults = write(
        folder / "b.yaml",
        "version: 1\nfaults:\n  - {id: F1, title: t}\n  - {id: F2, title: t, symptoms: [s], "
        "products: [P-missing]}\n",
    )
    result = kb("import", str(folder))
    assert result.exit_code == 1
    assert f"{faults}: faults[0] (id F1): key 'symptoms': field required" in result.stderr
    assert f"{faults}: faults[1] (id F2): key 'products': unknown products id(s)" in result.stderr
    assert "2 error(s); nothing was changed." in result.stderr
    assert stats() == before  # P3 from the valid file was not imported either


def test_upsert_references_may_point_at_stored_items(env: dict, tmp_path: Path) -> None:
    assert kb("import", str(write(tmp_path / "products.yaml", PRODUCTS))).exit_code == 0
    result = kb("import", str(write(tmp_path / "faults.yaml", FAULTS)))
    assert result.exit_code == 0, result.output
    nodes = stats()["nodes"]
    assert (nodes["products"], nodes["faults"]) == (2, 1)


def test_replace_removes_items_absent_from_the_files(env: dict, tmp_path: Path) -> None:
    assert kb("import", str(write(tmp_path / "all.yaml", PRODUCTS))).exit_code == 0
    one = write(tmp_path / "one.yaml", "version: 1\nproducts:\n  - {id: P1, name: Pump}\n")
    result = kb("import", str(one), "--replace")
    assert result.exit_code == 0, result.output
    assert stats()["nodes"]["products"] == 1
    assert stats()["revision"] == 2


def test_validate_checks_without_writing(env: dict, tmp_path: Path) -> None:
    faults = write(tmp_path / "faults.yaml", FAULTS)
    invalid = kb("validate", str(faults))
    assert invalid.exit_code == 1
    assert "key 'products': unknown products id(s): 'P1'" in invalid.stderr
    good = kb("validate", str(write(tmp_path / "kb" / "p.yaml", PRODUCTS)))
    assert good.exit_code == 0 and "OK: 2 products" in good.stdout
    assert stats()["nodes"]["products"] == 0 and stats()["revision"] == 0


def test_export_yaml_and_json_round_trip(env: dict, tmp_path: Path, sample_kb: Path) -> None:
    assert kb("import", str(sample_kb)).exit_code == 0
    as_yaml, as_json = tmp_path / "out" / "kb.yaml", tmp_path / "out" / "kb.json"
    assert kb("export", str(as_yaml)).exit_code == 0
    assert kb("export", str(as_json)).exit_code == 0
    exported = yaml.safe_load(as_yaml.read_text(encoding="utf-8"))
    assert exported == json.loads(as_json.read_text(encoding="utf-8"))
    assert exported["version"] == 1 and len(exported["faults"]) == 12
    again = kb("import", str(as_json), "--replace")
    assert again.exit_code == 0 and "Nothing changed" in again.stdout
    assert kb("export", str(as_yaml)).exit_code == 0
    assert yaml.safe_load(as_yaml.read_text(encoding="utf-8")) == exported


def test_missing_path_is_a_clear_error(env: dict, tmp_path: Path) -> None:
    result = kb("import", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 1
    assert "nope.yaml: no such file or folder" in result.stderr


def test_console_script_exits_1_on_a_bad_file(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.yaml", "version: 1\nfaults: [\n")
    environment = {
        **os.environ,
        "AFTERSALES_DATA_DIR": str(tmp_path / "data"),
        "AFTERSALES_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
    }
    command = [str(Path(sys.executable).parent / "aftersales"), "kb", "import", str(bad)]
    done = subprocess.run(
        command, capture_output=True, text=True, env=environment, cwd=tmp_path, timeout=120
    )
    assert done.returncode == 1, done.stderr
    assert f"{bad}: YAML syntax error" in done.stderr
    assert "Traceback" not in done.stderr
