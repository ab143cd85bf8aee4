"""Host and USB checks over fake roots (udev rules, sysfs, /proc)."""

from __future__ import annotations

from fixtures.doctor import roots

from .conftest import run, statuses


def test_udev_rule_0666_ok(make_ctx, tmp_path):
    root = roots.rule(tmp_path / "r", roots.RULE_0666)
    assert statuses(make_ctx(root=root), "host.udev_rule") == ["ok"]


def test_udev_rule_for_a_group_is_access_for_its_members(make_ctx, tmp_path):
    root = roots.rule(tmp_path / "r", "# comment 2207\n" + roots.RULE_0660, "51-android.rules")
    [f] = run(make_ctx(root=root), "host.udev_rule")
    assert f.status == "ok" and "group 'plugdev'" in f.message and "51-android.rules:2" in f.message


def test_udev_rule_that_grants_nobody_warns_with_where_and_never_suggests_0666(make_ctx, tmp_path):
    root = roots.rule(tmp_path / "r", '# comment 2207\nSUBSYSTEM=="usb", ATTRS{idVendor}=="2207", MODE="0600"\n',
                      "51-android.rules")
    [f] = run(make_ctx(root=root), "host.udev_rule")
    assert f.status == "warn" and "51-android.rules:2" in f.message
    assert 'MODE="0660"' in f.fix and 'TAG+="uaccess"' in f.fix and 'MODE="0666"' not in f.fix


# Debian's android-sdk-platform-tools-common 51-android.rules, shortened: the vendor line sets an
# ENV flag; access is granted on a later line, after GOTO guards.
DEBIAN_51_ANDROID = """\
# Skip this section below if this device is not connected by USB
SUBSYSTEM!="usb", GOTO="android_usb_rules_end"

LABEL="android_universal"
# Google
ATTR{idVendor}=="18d1", ENV{adb_user}="yes"
# Rockchip
ATTR{idVendor}=="2207", ENV{adb_user}="yes"

# Enable device as a user device if found
ENV{adb_user}=="yes", MODE="0660", GROUP="plugdev", TAG+="uaccess"

LABEL="android_usb_rules_end"
"""


def test_debians_adb_rules_grant_access_across_lines(make_ctx, tmp_path):
    root = roots.rule(tmp_path / "r", DEBIAN_51_ANDROID, "51-android.rules")
    [f] = run(make_ctx(root=root), "host.udev_rule")
    assert f.status == "ok" and "uaccess" in f.message and "51-android.rules:11" in f.message


def test_access_for_another_vendor_or_behind_a_goto_does_not_count(make_ctx, tmp_path):
    other = DEBIAN_51_ANDROID.replace('ATTR{idVendor}=="2207", ENV{adb_user}="yes"', "")
    assert run(make_ctx(root=roots.rule(tmp_path / "a", other, "51-android.rules")),
               "host.udev_rule")[0].status == "warn"
    skipped = ('ATTRS{idVendor}=="2207", GOTO="end"\n'
               'ATTRS{idVendor}=="2207", MODE="0660", GROUP="plugdev"\nLABEL="end"\n')
    [f] = run(make_ctx(root=roots.rule(tmp_path / "b", skipped)), "host.udev_rule")
    assert f.status == "warn", f.message


def test_continued_lines_are_one_rule(make_ctx, tmp_path):
    text = 'SUBSYSTEM=="usb", \\\n  ATTRS{idVendor}=="2207", \\\n  MODE="0660", TAG+="uaccess"\n'
    [f] = run(make_ctx(root=roots.rule(tmp_path / "r", text)), "host.udev_rule")
    assert f.status == "ok" and "99-rk-usb.rules:1" in f.message


def test_udev_no_rule_with_a_device_connected_is_an_error(make_ctx, tmp_path):
    root = roots.usb_device(tmp_path / "r", "1-1", interfaces=(roots.OTHER_IF,))
    assert statuses(make_ctx(root=root), "host.udev_rule") == ["error"]


def test_udev_no_rule_no_device_warns(make_ctx, tmp_path):
    assert statuses(make_ctx(root=tmp_path), "host.udev_rule") == ["warn"]


def test_usb_devices_lists_rockchip_only(make_ctx, tmp_path):
    root = roots.usb_device(tmp_path / "r", "1-1", product="RK1808")
    roots.usb_device(root, "1-2", vid="18d1")
    [f] = run(make_ctx(root=root), "host.usb_devices")
    assert f.status == "ok" and "1-1" in f.message and "1-2" not in f.message and "adb" in f.message


def test_usb_devices_none_warns_when_a_usb_board_is_asked_for(make_ctx, tmp_path):
    root = roots.usb_device(tmp_path / "r", "1-2", vid="18d1")
    [f] = run(make_ctx(root=root, device_ids=["c3d9b8674f4b94f6", "10.0.0.5:5555"]), "host.usb_devices")
    assert f.status == "warn" and "c3d9b8674f4b94f6" in f.message and "10.0.0.5" not in f.message
    assert statuses(make_ctx(root=root, device_ids=["10.0.0.5:5555"]), "host.usb_devices") == ["ok"]
    assert statuses(make_ctx(root=root), "host.usb_devices") == ["ok"]


def test_adb_and_ntb(make_ctx, tmp_path):
    one = roots.usb_device(tmp_path / "one", "1-1")
    assert statuses(make_ctx(root=one), "host.adb_and_ntb") == ["ok"]
    both = roots.usb_device(roots.usb_device(tmp_path / "both", "1-1"), "1-2", pid="180a", interfaces=(roots.OTHER_IF,))
    [f] = run(make_ctx(root=both), "host.adb_and_ntb")
    assert f.status == "warn" and "1-1" in f.message and "1-2" in f.message


def test_proxy_absent_ok(make_ctx, tmp_path):
    root = roots.process(tmp_path / "r", 10, "bash")
    assert statuses(make_ctx(root=root), "host.npu_transfer_proxy") == ["ok"]


def test_proxy_with_an_adb_device_is_an_error(make_ctx, tmp_path):
    root = roots.usb_device(roots.process(tmp_path / "r", 4242, "npu_transfer_proxy"), "1-1")
    [f] = run(make_ctx(root=root), "host.npu_transfer_proxy")
    assert f.status == "error" and "4242" in f.message and f.fix == "kill 4242"


def test_stale_proxy_without_devices_warns(make_ctx, tmp_path):
    root = roots.process(tmp_path / "r", 77, "python3", ("/opt/rknn/npu_transfer_proxy",))
    assert statuses(make_ctx(root=root), "host.npu_transfer_proxy") == ["warn"]


def test_proxy_serving_an_ntb_device_ok(make_ctx, tmp_path):
    root = roots.usb_device(roots.process(tmp_path / "r", 5, "npu_transfer_proxy"), "1-1", interfaces=(roots.OTHER_IF,))
    assert statuses(make_ctx(root=root), "host.npu_transfer_proxy") == ["ok"]
