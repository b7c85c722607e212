from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from attache.settings import ModelMode, ServerSettings, Settings

README = Path(__file__).parents[2] / "README.md"


@pytest.mark.parametrize(
    ("heading", "cls"),
    [("### Extraction settings", Settings), ("### Server settings", ServerSettings)],
)
def test_every_setting_is_in_its_readme_table(heading: str, cls: type[Settings]) -> None:
    section = README.read_text().split(heading, 1)[1].split("\n#", 1)[0]
    documented = set(re.findall(r"^\| `(ATTACHE_[A-Z0-9_]+)` \|", section, re.M))
    expected = {f"ATTACHE_{name.upper()}" for name in cls.model_fields}
    assert documented == expected


def test_the_two_classes_share_no_setting() -> None:
    assert not set(Settings.model_fields) & set(ServerSettings.model_fields)


def test_the_command_line_reads_env_and_dotenv(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("ATTACHE_MODEL=from-dotenv\nATTACHE_MODE=json\nATTACHE_PORT=9\n")
    monkeypatch.setenv("ATTACHE_MODE", "json_schema")
    settings = Settings.from_env_file()
    assert settings.model == "from-dotenv"
    assert settings.mode is ModelMode.JSON_SCHEMA  # the environment wins over .env
    assert ServerSettings.from_env_file().port == 9


def test_library_use_never_reads_a_stray_dotenv(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("ATTACHE_MODEL=stray\nATTACHE_API_KEYS=x\n")
    monkeypatch.setenv("ATTACHE_MODE", "json")
    settings = Settings()
    assert settings.model is None
    assert settings.mode is ModelMode.JSON  # the environment still counts
    assert ServerSettings().api_keys == []


def test_model_needs_an_endpoint_or_key_to_count_as_configured() -> None:
    assert not Settings(_env_file=None, model="m").model_configured
    assert Settings(_env_file=None, model="m", api_key="k").model_configured
    assert Settings(_env_file=None, model="m", base_url="http://127.0.0.1:1/v1").model_configured
    assert not Settings(_env_file=None, base_url="http://127.0.0.1:1/v1").model_configured


@pytest.mark.parametrize(
    "values",
    [
        {"chunk_chars": 2000, "chunk_overlap_chars": 1000},
        {"prompt_version": "v999"},
        {"mode": "telepathy"},
        {"reasks": 9},
        {"deadline_s": 0},
    ],
)
def test_invalid_settings_are_refused(values: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Settings(_env_file=None, **values)
