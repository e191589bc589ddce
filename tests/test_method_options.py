"""A method's own options section: `options:` in the config, typed and checked by the
method's `Options` dataclass (advnets.methods.base.Method.options)."""

from dataclasses import dataclass

import pytest

from advnets.config import Config, apply_overrides, config_from_dict
from advnets.errors import ConfigError
from advnets.methods import GAN, METHODS
from advnets.validation import validate


@dataclass(frozen=True)
class MarginOptions:
    margin: float = 10.0
    divergence: str = "kl"


class MarginGAN(GAN):
    Options = MarginOptions


@pytest.fixture
def margin_method(monkeypatch):
    monkeypatch.setitem(METHODS._table, "margin-gan", MarginGAN)
    return Config(method="margin-gan")


def test_options_default_when_absent(margin_method):
    assert MarginGAN.options(margin_method) == MarginOptions()


def test_options_set_from_the_command_line_and_round_trip(margin_method):
    cfg = apply_overrides(margin_method, ["options.margin=2", "options.divergence=pearson"])
    assert MarginGAN.options(cfg) == MarginOptions(margin=2.0, divergence="pearson")
    again = config_from_dict(cfg.to_dict())
    assert MarginGAN.options(again) == MarginOptions(margin=2.0, divergence="pearson")


def test_unknown_option_refused_naming_the_valid_keys(margin_method):
    cfg = apply_overrides(margin_method, ["options.margn=2"])
    with pytest.raises(ConfigError, match=r"'options.margn'.*margin, divergence"):
        validate(cfg, training=False)


def test_option_of_the_wrong_type_refused(margin_method):
    cfg = apply_overrides(margin_method, ["options.margin=wide"])
    with pytest.raises(ConfigError, match="'options.margin' must be float"):
        validate(cfg, training=False)


def test_method_without_options_refuses_an_options_section():
    cfg = apply_overrides(Config(method="supervised"), ["options.margin=2"])
    with pytest.raises(ConfigError, match="method supervised takes no options.*margin"):
        validate(cfg, training=False)
