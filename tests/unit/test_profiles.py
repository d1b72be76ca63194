"""nclib.profiles: the NCLIB_PROFILE switch, the settings table and provenance."""

import pytest

from nclib import profiles


def test_default_profile_is_small(monkeypatch):
    monkeypatch.delenv(profiles.ENV_VAR, raising=False)
    assert profiles.current() == "small"


@pytest.mark.parametrize("name", profiles.PROFILES)
def test_env_var_selects_profile(monkeypatch, name):
    monkeypatch.setenv(profiles.ENV_VAR, name.upper())
    assert profiles.current() == name
    assert profiles.settings("ch1").profile == name


def test_unknown_profile_is_an_error(monkeypatch):
    monkeypatch.setenv(profiles.ENV_VAR, "huge")
    with pytest.raises(ValueError, match="NCLIB_PROFILE='huge' is not a profile"):
        profiles.current()
    with pytest.raises(ValueError, match="profile='tiny' is not a profile"):
        profiles.settings("ch1", "tiny")


def test_unknown_chapter_is_an_error():
    with pytest.raises(ValueError, match="chapter='ch99' has no settings"):
        profiles.settings("ch99")


@pytest.mark.parametrize("chapter", sorted(profiles.SETTINGS))
def test_every_profile_defines_the_same_sizes(chapter):
    keys = {p: set(profiles.SETTINGS[chapter][p]) for p in profiles.PROFILES}
    assert keys["smoke"] == keys["small"] == keys["paper"], keys


def test_settings_table_is_read_only():
    with pytest.raises(TypeError):
        profiles.SETTINGS["ch1"]["small"]["K"] = 3


def test_provenance_names_profile_device_versions_and_commit(monkeypatch, capsys):
    monkeypatch.setenv(profiles.ENV_VAR, "smoke")
    record = profiles.provenance(dataset="none")
    for key in ("profile", "device", "torch", "git commit", "nclib", "dataset"):
        assert key in record
    assert record["profile"] == "smoke"
    assert profiles.show_provenance(dataset="none") is None
    printed = capsys.readouterr().out
    assert "smoke" in printed and record["torch"] in printed and "dataset" in printed
