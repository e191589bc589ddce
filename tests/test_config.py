import pytest

from advnets.config import NetConfig, apply_overrides, config_from_dict, load_preset, preset_names
from advnets.errors import ConfigError
from advnets.methods import METHODS
from advnets.methods.netkeys import KEYS, net_reads
from advnets.validation import validate

REQUIRED = {"gan-mnist", "gan-mnist-fast", "pytorch-gan-mnist", "gan-ring", "gan-grid", "gan-1d"}


def test_required_presets_ship_and_load():
    assert set(preset_names()) >= REQUIRED
    for name in preset_names():
        cfg = load_preset(name)
        assert cfg.description, name


def test_paper_preset_values():
    cfg = load_preset("gan-mnist")
    assert cfg.optim["G"].lr == 0.1 and cfg.optim["G"].lr_decay == 1.000004
    assert cfg.optim["G"].lr_min == 1e-6 and cfg.optim["G"].momentum_final == 0.7
    # the paper code's D cost is half of -V: the same SGD step with half the lr
    assert cfg.optim["D"].lr == 0.05 and cfg.optim["D"].lr_min == 5e-7
    assert cfg.train.k == 1 and cfg.train.batch_size == 100
    assert cfg.model.noise == "uniform" and cfg.model.noise_scale == pytest.approx(3**0.5)


def test_dotted_overrides_parse_types():
    cfg = apply_overrides(
        load_preset("gan-mnist"),
        [
            "train.k=5",
            "optim.G.lr=1e-3",
            "model.generator.hidden=[10, 20]",
            "train.steps=null",
            "train.precision=bf16",
        ],
    )
    assert cfg.train.k == 5 and cfg.optim["G"].lr == 1e-3
    assert cfg.model.generator.hidden == [10, 20] and cfg.train.steps is None
    assert cfg.train.precision == "bf16"
    assert isinstance(apply_overrides(cfg, ["optim.G.lr=1"]).optim["G"].lr, float)


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.kk=5", "unknown config key 'train.kk'"),
        ("nope.k=5", "unknown config key 'nope.k'"),
        ("train.k=five", "'train.k' must be int"),
        ("train.k=1.5", "'train.k' must be int"),
        ("model.generator.hidden=3", "'model.generator.hidden' must be a list"),
        ("train.progress=maybe", "'train.progress' must be bool"),
        ("train.k", "must look like section.key=value"),
    ],
)
def test_bad_overrides_name_the_key(override, message):
    with pytest.raises(ConfigError, match=message) as err:
        apply_overrides(load_preset("gan-mnist"), [override])
    assert "\n" not in str(err.value)


def test_unknown_preset_and_nested_unknown_key():
    with pytest.raises(ConfigError, match="unknown preset 'gan-mnsit'"):
        load_preset("gan-mnsit")
    with pytest.raises(ConfigError, match="'model.generator.widths'"):
        config_from_dict({"model": {"generator": {"widths": [1]}}})


def test_based_on_merges_the_variant_over_its_preset():
    base, full = load_preset("improved-gan-mnist"), load_preset("improved-gan-mnist-full")
    assert (full.data.split, full.train.epochs, full.train.eval_every) == ("full", 300, 0)
    assert full.train.checkpoint_every == 3000 and base.train.checkpoint_every == 5000
    # sections merge key by key: the rest of data and train, and every other section, is kept
    assert full.data.labels == base.data.labels == 100 and full.train.ema_decay == 0.9999
    assert full.model == base.model and full.optim == base.optim and full.loss == base.loss
    assert full.description != base.description and full.paper == base.paper


def test_based_on_in_a_users_file(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("based_on: dcgan-mnist\ntrain: {batch_size: 32}\n")
    cfg, base = load_preset(str(path)), load_preset("dcgan-mnist")
    assert cfg.train.batch_size == 32 and cfg.train.epochs == base.train.epochs
    assert cfg.model == base.model


@pytest.mark.parametrize(
    "text, message",
    [
        ("based_on: dcgan-mnsit\n", "based_on 'dcgan-mnsit' is not a shipped preset"),
        ("based_on: [dcgan-mnist]\n", "is not a shipped preset"),
    ],
)
def test_bad_based_on_is_one_line(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as err:
        load_preset(str(path))
    assert "\n" not in str(err.value)


def test_based_on_cycle_is_reported(monkeypatch, tmp_path):
    import advnets.config as config

    for name, parent in (("a", "b"), ("b", "a")):
        (tmp_path / f"{name}.yaml").write_text(f"based_on: {parent}\n")
    monkeypatch.setattr(config, "_preset_files", lambda: {n: tmp_path / f"{n}.yaml" for n in "ab"})
    with pytest.raises(ConfigError, match=r"cycle \(a -> b -> a\)"):
        load_preset("a")


def test_round_trip_through_dict():
    cfg = load_preset("pytorch-gan-mnist")
    assert config_from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize(
    "override, message",
    [
        ("model.generator.init=unifrom", "choose one of: default, normal, uniform"),
        ("model.discriminator.input_dropout=1.0", "drop probability"),
        ("optim.D.lr=-1", "optim.D.lr must be > 0"),
        ("optim.G.lr_decay=0", "lr_decay"),
        ("optim.G.lr_milestones=[500,100]", "increasing update counts"),
        ("optim.D.lr_gamma=0", "lr_gamma must be in"),
        ("optim.D.lr_ramp_down=[100,100]", "0 <= start < end"),
        ("optim.G.lr_ramp_down=[100]", "lr_ramp_down must be"),
        ("optim.G.lr=.nan", "must be finite"),
        ("train.precision=fp16", "choose one of: bf16, fp32"),
        ("model.z_dim=0", "z_dim"),
        ("data.split=test", "trains on the test images that score the run"),
    ],
)
def test_validation_catches_out_of_range_values(override, message):
    from advnets.validation import validate

    with pytest.raises(ConfigError, match=message):
        validate(apply_overrides(load_preset("gan-mnist"), [override]))


def test_non_string_keys_and_unreadable_files(tmp_path):
    with pytest.raises(ConfigError, match="unknown config key '1'"):
        config_from_dict({1: "x"})
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="cannot be read"):
        load_preset(str(binary))


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["options.unroll_steps=3", "options.clip=0.01"], "unroll_steps"),
        (["options.unroll_steps=1", "optim.D.eps_inside_sqrt=true"], "eps_inside_sqrt=false"),
        (
            ["train.eval_every=100", "train.eval_metric=fid", "train.eval_samples=128"],
            "FID needs more samples than",
        ),
        (["train.eval_every=100", "data.split=full"], "data.split=full"),
        (["train.eval_every=100", "data.split=valid"], "data.split=valid trains on"),
        # (gan-mnist's nets alone refuse ring data: an MLP G's bias from the data needs images)
        (["data.g_real_stream=true", "data.name=ring"], "ring is drawn afresh for every batch"),
    ],
)
def test_combinations_that_would_mislead_are_refused(overrides, message):
    with pytest.raises(ConfigError, match=message):
        validate(load_preset("gan-mnist", overrides))
    validate(load_preset("gan-mnist", overrides[:1]))  # either setting alone is fine


@pytest.mark.parametrize(
    "preset, overrides, message",
    [
        ("sgan-mnist", ["method=supervised", "train.eval_metric=fid"], "has no generator that"),
        ("gan-mnist", ["train.eval_metric=accuracy"], "needs a classifying method"),
        ("restore-sr4-faces", [], "method restoration has no generator that samples"),
    ],
)
def test_a_periodic_evaluation_the_method_cannot_score_is_refused(preset, overrides, message):
    """Refused before the folder is made, not at the first evaluation eval_every steps in."""
    with pytest.raises(ConfigError, match=message):
        validate(load_preset(preset, [*overrides, "train.eval_every=100"]))
    validate(load_preset(preset, [*overrides, "train.eval_every=0"]))


def test_a_key_given_twice_in_a_preset_file_is_refused(tmp_path):
    """Plain YAML keeps the last of two `train:` sections silently; here it is one line.
    Keys merged from an anchor may still be overridden."""
    twice = tmp_path / "twice.yaml"
    twice.write_text("based_on: gan-ring\ntrain:\n  k: 2\ntrain:\n  seed: 3\n")
    with pytest.raises(ConfigError, match="the key 'train' is given twice"):
        load_preset(str(twice))
    anchored = tmp_path / "anchored.yaml"
    anchored.write_text(
        "based_on: gan-ring\noptim:\n  D: &d {lr: 0.001, name: adam}\n"
        "  G:\n    <<: *d\n    lr: 0.002\n"
    )
    cfg = load_preset(str(anchored))
    assert (cfg.optim["G"].lr, cfg.optim["G"].name, cfg.optim["D"].lr) == (0.002, "adam", 0.001)


def test_overriding_a_whole_section_merges_it_key_by_key():
    """`--set model.generator={...}` changes the keys it names, as based_on does; the
    preset's other keys stay (they used to fall back to the dataclass defaults)."""
    base = load_preset("gan-mnist")
    cfg = apply_overrides(base, ["model.generator={hidden: [64]}", "optim.D={lr: 0.01}"])
    assert cfg.model.generator.hidden == [64] and cfg.optim["D"].lr == 0.01
    assert cfg.model.generator.init == base.model.generator.init != "default"
    assert cfg.optim["D"].lr_decay == base.optim["D"].lr_decay != 1.0


@pytest.mark.parametrize("path", ["/mnt/my data #2", "null", "~", "2024", "/x: y", "[v2]/d"])
def test_a_data_path_is_taken_as_written(path):
    """--data and the benchmarks' data folders pass through path_override: YAML would cut
    a path at ' #', read 'null' as None or '2024' as a number."""
    from advnets.config import path_override

    assert load_preset("gan-ring", [path_override("data.root", path)]).data.root == path


def test_ten_minute_preset_values():
    """gan-mnist-10min: gan-mnist-fast's networks with Adam 7e-4 for 20 epochs, the weight
    average over the whole run, the validation Parzen score every epoch."""
    cfg, fast = load_preset("gan-mnist-10min"), load_preset("gan-mnist-fast")
    assert cfg.model == fast.model and cfg.loss == fast.loss
    assert [cfg.optim[p].lr for p in "GD"] == [7e-4, 7e-4]
    assert [tuple(cfg.optim[p].betas) for p in "GD"] == [(0.5, 0.999)] * 2
    assert cfg.train.epochs == 20 and cfg.train.batch_size == 100
    assert cfg.train.ema_decay == 0.99995 and cfg.train.ema_start == 0
    assert cfg.train.eval_every == 500 and cfg.train.eval_metric == "parzen"


def test_older_loss_keys_load_as_the_methods_options():
    """A checkpoint or preset written before the options moved keeps its meaning: its
    `loss.*` keys become the method's options, under the method's own names."""
    old = load_preset("vaegan-mnist").to_dict()
    old["options"] = {}
    old["loss"] |= {"vaegan_gamma": 0.5, "vaegan_dis_llike": 0.0, "lsgan_a": 0.0, "clip": 0.0}
    cfg = config_from_dict(old)
    assert cfg.options == {"gamma": 0.5, "dis_llike": 0.0}  # the GAN's defaults dropped
    assert METHODS.get("vaegan").options(cfg).gamma == 0.5
    assert load_preset("gan-ring", ["loss.unroll_steps=2"]).options == {"unroll_steps": 2}
    # a default the method never read is dropped, from an override as from a checkpoint
    assert load_preset("vae-mnist", ["loss.clip=0"]).options == {"likelihood": "bernoulli"}
    assert load_preset("vae-mnist", ["loss.vae_likelihood=gaussian"]).options == {
        "likelihood": "gaussian"
    }


@pytest.mark.parametrize(
    "preset, overrides, message",
    [
        ("vae-mnist", ["loss.clip=0.01"], "loss.clip is not read by method vae .*; drop it"),
        ("gan-ring", ["options.gamma=1"], "unknown config key 'options.gamma'; valid keys"),
        ("gan-ring", ["options.clip=-1"], "options.gradient_penalty and options.clip must be"),
        ("vae-mnist", ["options.likelihood=poisson"], "options.likelihood='poisson'; choose"),
        ("vaegan-mnist", ["options.gamma=-1"], "options.gamma and options.dis_llike must be"),
        ("restore-sr2-cifar10", ["options.adversarial_weight=-1"], "finite number >= 0"),
        ("improved-gan-mnist", ["options.consistency_weight=-1"], "must be >= 0, got -1"),
        ("wgan-mnist", ["options.gradient_penalty=10"], "are alternatives; set one to 0"),
    ],
)
def test_each_method_checks_its_own_options(preset, overrides, message):
    with pytest.raises(ConfigError, match=message):
        validate(load_preset(preset, overrides))


def test_a_legacy_key_beside_its_new_name_is_refused():
    old = load_preset("wgan-mnist").to_dict()
    old["loss"]["clip"] = 0.05
    with pytest.raises(ConfigError, match="both loss.clip and options.clip"):
        config_from_dict(old)


def test_switching_the_method_keeps_the_options_the_new_one_takes():
    """--set method=... drops the old method's options, keeps the shared ones and those set."""
    assert load_preset("vaegan-mnist", ["method=gan"]).options == {}
    ssl = load_preset("improved-gan-mnist", ["method=sgan"]).options
    assert ssl == {"unsupervised_weight": 0.5, "feature_matching_mean": True}
    assert load_preset("improved-gan-mnist", ["method=supervised"]).options == {}
    content = load_preset("restore-sr2-cifar10", ["method=restoration-content"]).options
    assert content == {"content_weight": 0.9}
    with pytest.raises(ConfigError, match="options.clip"):  # set by the user: kept, refused
        validate(load_preset("vaegan-mnist", ["method=gan", "options.clip=0.01", "method=vae"]))


@pytest.mark.parametrize(
    ("preset", "override", "message"),
    [
        ("gan-mnist", "model.generator.pieces=3", r"generator net \(arch mlp\)"),  # ReLU G
        ("restore-sr2-cifar10", "model.generator.arch=dcgan", r"\(restoration's own\)"),
        ("began-faces", "model.discriminator.hidden=[10]", r"discriminator net \(arch dcgan"),
        ("cgan-mnist", "model.discriminator.channels=8", r"discriminator net \(arch mlp"),
    ],
)
def test_an_override_no_net_reads_is_refused(preset, override, message):
    with pytest.raises(ConfigError, match=message):
        load_preset(preset, [override])


@pytest.mark.parametrize(
    ("preset", "override"),
    [
        ("gan-mnist", "model.discriminator.pieces=3"),  # a maxout D
        ("restore-sr2-cifar10", "model.generator.blocks=2"),
        ("cgan-mnist", "model.discriminator.branch_pieces=3"),
        ("improved-gan-mnist", "model.discriminator.weight_norm_init_out=0.2"),
        ("vae-mnist", "model.encoder.channels=16"),
        ("gan-mnist", "model.generator={arch: dcgan, channels: 16}"),  # switched, then read
        ("gan-mnist", "model.encoder.hidden=[10]"),  # no net: a sweep's key for other methods
    ],
)
def test_an_override_a_net_reads_is_taken(preset, override):
    key, _, value = override.partition("=")
    cfg = load_preset(preset, [override])
    assert cfg.to_dict() != load_preset(preset).to_dict(), (key, value)


def test_every_preset_sets_only_net_keys_its_nets_read():
    """A preset's net keys that differ from NetConfig's defaults are each read while its
    nets are built (else the preset says something its run ignores)."""
    default = NetConfig()
    for name in preset_names():
        cfg = load_preset(name)
        reads = net_reads(cfg, METHODS)
        assert reads is not None, name
        for section in ("generator", "discriminator", "encoder"):
            net = getattr(cfg.model, section)
            for key in KEYS:
                if getattr(net, key) != getattr(default, key):
                    assert key in reads.get(section, ()), f"{name}: model.{section}.{key}"
