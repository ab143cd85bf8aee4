import pytest

from rknn_diag import config
from rknn_diag.errors import ConfigError


def test_channel_mean_value_three_channels_means_then_scale():
    cfg = config.parse(channel_mean_value="103.94 116.78 123.68 58.82")
    p = cfg.preprocess[0]
    assert p.mean == [103.94, 116.78, 123.68] and p.std == [58.82] * 3


@pytest.mark.parametrize("text,means,scale", [("128 128", [128.0], 128.0),           # 1 channel, §1.2.2
                                              ("1 2 3 4 255", [1.0, 2.0, 3.0, 4.0], 255.0)])  # 4 channels, §1.2.4
def test_channel_mean_value_one_and_four_channels(text, means, scale):
    p = config.parse(channel_mean_value=text).preprocess[0]
    assert p.mean == means and p.std == [scale] * len(means)


def test_several_inputs_split_on_hash():
    cfg = config.parse(channel_mean_value="0 0 0 255#128 1", reorder_channel="2 1 0#0 1 2")
    assert [p.reorder for p in cfg.preprocess] == [[2, 1, 0], [0, 1, 2]]
    assert cfg.preprocess[1].mean == [128.0]


@pytest.mark.parametrize("kwargs,needle", [
    ({"target_platform": ["rk1808", "rk3588"]}, "mixes RKNPU1 and RKNPU2"),
    ({"target_platform": "rk9999"}, "unknown target_platform"),
    ({"mean_valuse": [[0, 0, 0]]}, "did you mean 'mean_values'"),
    ({"channel_mean_value": "0 0 0 255", "mean_values": [[0, 0, 0]]}, "both set"),
    ({"channel_mean_value": "0 0 0 0"}, "scale S0 is 0"),
    ({"channel_mean_value": "a b c d"}, "non-number"),
    ({"reorder_channel": "2 2 0"}, "not a permutation"),
    ({"quantized_dtype": "int3"}, "unknown quantized_dtype"),
    ({"quantized_dtype": "w8a8", "target_platform": "rk1808"}, "not available on rk1808"),
    ({"quantized_dtype": "w4a16", "target_platform": "rk3588"}, "not available on rk3588"),
    ({"quantized_method": "group32"}, "does not go with"),
    ({"quantized_algorithm": "best"}, "unknown quantized_algorithm"),
    ({"batch_size": 0}, "batch_size must be >= 1"),
    ({"epochs": 0}, "epochs must be"),
    ({"std_values": [[1, 0, 1]]}, "has a 0"),
    ({"mean_values": [[0, 0, 0]], "std_values": [[1, 1]]}, "mean_values has 3 values"),
])
def test_bad_settings_are_refused_with_a_reason(kwargs, needle):
    with pytest.raises(ConfigError) as e:
        config.parse(**kwargs)
    assert needle in str(e.value)


@pytest.mark.parametrize("platform,default", [("rk1808", "asymmetric_quantized-u8"), ("rv1126", "asymmetric_quantized-u8"),
                                              ("rk3588", "w8a8"), ("rk3566", "w8a8")])
def test_default_dtype_follows_platform(platform, default):
    assert config.parse(target_platform=platform).dtype == default


@pytest.mark.parametrize("alias,canon", [("asymmetric_affine-u8", "asymmetric_quantized-u8"),
                                         ("dynamic_fixed_point-8", "dynamic_fixed_point-i8"),
                                         ("dynamic_fixed_point-16", "dynamic_fixed_point-i16")])
def test_v1_aliases(alias, canon):
    assert config.parse(quantized_dtype=alias, target_platform="rk1808").dtype == canon


def test_v2_aliases_and_group_default():
    assert config.parse(quantized_dtype="w16a16i", target_platform="rv1106").dtype == "w16a16i_dfp"
    assert config.parse(quantized_dtype="asymmetric_quantized-8").dtype == "w8a8"
    assert config.parse(quantized_dtype="w4a16", target_platform="rk3576").quantized_method == "group128"


def test_round_trip_through_dict():
    cfg = config.parse(mean_values=[[1, 2, 3]], std_values=[[4, 5, 6]], quant_img_RGB2BGR=True)
    assert config.RknnConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.preprocess[0].dataset_reorder == [2, 1, 0] and cfg.preprocess[0].reorder is None
