from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from attache.settings import ModelMode, Settings

README = Path(__file__).parents[2] / "README.md"


def test_every_setting_is_in_the_readme_table() -> None:
    documented = set(re.findall(r"^\| `(ATTACHE_[A-Z0-9_]+)` \|", README.read_text(), re.M))
    expected = {f"ATTACHE_{name.upper()}" for name in Settings.model_fields}
    assert documented == expected


def test_settings_come_from_prefixed_env_and_dotenv(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("ATTACHE_MODEL=from-dotenv\nATTACHE_MODE=json\n")
    monkeypatch.setenv("ATTACHE_MODE", "json_schema")
    settings = Settings()
    assert settings.model == "from-dotenv"
    assert settings.mode is ModelMode.JSON_SCHEMA  # the environment wins over .env


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
