import pytest

from fwcourse.course import config


def test_every_block_has_the_same_keys_at_every_scale():
    for notebook, block in config.SIZES.items():
        assert set(block) == set(config.SCALES), notebook
        keys = {s: set(block[s]) for s in config.SCALES}
        assert len({frozenset(k) for k in keys.values()}) == 1, f"notebook {notebook}: {keys}"


def test_scale_comes_from_the_environment(monkeypatch):
    for scale in config.SCALES:
        monkeypatch.setenv(config.ENV_VAR, scale)
        assert config.scale() == scale
        assert config.sizes("00").scale == scale
    monkeypatch.delenv(config.ENV_VAR)
    assert config.scale() == config.DEFAULT_SCALE


def test_unknown_scale_lists_the_valid_ones(monkeypatch):
    monkeypatch.setenv(config.ENV_VAR, "huge")
    with pytest.raises(ValueError, match="quick, default, full"):
        config.scale()
    with pytest.raises(ValueError, match="scale must be one of 'quick', 'default', 'full'; got 'tiny'"):
        config.set_scale("tiny")


def test_set_scale_and_unknown_notebook(monkeypatch):
    monkeypatch.setenv(config.ENV_VAR, "quick")
    assert config.set_scale("Full ") == "full"
    with pytest.raises(ValueError, match="notebook must be one of"):
        config.sizes("99")
    assert "Scale: full" in config.describe("00")
