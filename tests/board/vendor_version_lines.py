"""Version lines exactly as the vendor's published runtime prints or carries them, each with
where it was read (data, quoted for the parsers' tests; no vendor code). Binaries were read with
`git show <commit>:<path> | strings` from the public repositories; board logs are public
repositories' quotes of real boards."""

RKNPU2_COMMIT = "5adf7c1"   # rockchip-linux/rknpu2 HEAD read here (runtime 1.5.2)
RKNPU1_COMMIT = "e0cb42b"   # rockchip-linux/rknpu HEAD read here ("NPU Driver to 1.7.5")

# (text as `strings` / `cat` / `dmesg` shows it, expected version, source)
RKNN_SERVER = [
    ("rknn_server version: 1.5.2 (8babfea build@2023-08-25T10:29:51)", "1.5.2",
     "rockchip-linux/rknpu2 runtime/RK356X/Linux/rknn_server/aarch64/usr/bin/rknn_server"),
    ("rknn_server version: 1.5.2 (8babfea build@2023-08-25T10:30:50)", "1.5.2",
     "rockchip-linux/rknpu2 runtime/RV1106/Linux/rknn_server/arm/usr/bin/rknn_server"),
    ("rknn_server version: 2.3.0 (e80ac5c build@2024-11-07T12:52:53)", "2.3.0",
     "an RK3588 board's `strings /usr/bin/rknn_server | grep -i 'rknn_server version'` (public notes)"),
    # RKNPU1: no name before the number; the guide's `strings rknn_server | grep build` finds it
    ("%ld NNService %s(%d): Invalid header version, except %d, got %d\nstart rknn server, version:%s\n"
     "1.7.5 (bb79b30 build: 2023-07-18 10:49:14)\nTransfer version 2.1.0 (b5861e7@2020-11-23T11:50:51)", "1.7.5",
     "rockchip-linux/rknpu drivers/linux-aarch64/usr/bin/rknn_server"),
]
RUNTIME = [   # (text, version, mini runtime, source)
    ("librknnrt version: 1.5.2 (c6b7b351a@2023-08-23T15:29:04)", "1.5.2", False,
     "rockchip-linux/rknpu2 runtime/RK356X/Linux/librknn_api/armhf/librknnrt.so"),
    ("E RKNN: incompatible model version: %llx\nlibrknnmrt version: 1.5.2 (c6b7b351a@2023-08-23T15:29:48)",
     "1.5.2", True, "rockchip-linux/rknpu2 runtime/RV1106/Linux/librknn_api/armhf/librknnmrt.so"),
    ("I RKNN: [20:31:55.914] RKNN Runtime Information, librknnrt version: 2.3.0 (c949ad889d@2024-11-07T11:35:33)",
     "2.3.0", False, "an RK3588 board's init log (public notes)"),
    ("- librknnrt version: 2.0.0b0", "2.0.0b0", False, "a public project's tested-on list (beta runtime)"),
    ("6.4.6.5.351518\nlibrknn_runtime version 1.7.5 (ccb93f1 build: 2023-07-18 10:48:49 base: 1131)\n"
     "OVXLIB_VERSION==1.1.31", "1.7.5", False,
     "rockchip-linux/rknpu drivers/linux-aarch64/usr/lib/librknn_runtime.so"),
    # the Mini Driver's library carries the same line: mini shows by libVSC_Lite.so instead
    ("librknn_runtime version 1.7.5 (ccb93f1 build: 2023-07-18 10:50:13 base: 1131)", "1.7.5", False,
     "rockchip-linux/rknpu drivers/linux-aarch64-mini/usr/lib/librknn_runtime.so"),
]
RKNPU2_DRIVER = [
    ("RKNPU driver: v0.9.8\n", "0.9.8", "an RK3588 board's /sys/kernel/debug/rknpu/version (public notes)"),
    ("RKNPU driver: v0.9.6\n", "0.9.6", "an RK3576 board's /sys/kernel/debug/rknpu/version (public notes)"),
]
GALCORE_DMESG = [
    ("[    1.324310] galcore: clk_get vg clock failed, disable vg!\n[    1.324472] Galcore version 6.4.3.p2.336687\n"
     "[    1.349992] mmc2: SDHCI controller on 30b60000.mmc [30b60000.mmc] using ADMA", "6.4.3.p2.336687",
     "a Vivante NPU board's boot log (public)"),
    ("[    2.391145] Galcore version 6.4.6.5.351518", "6.4.6.5.351518",
     "Rockchip's galcore.ko version (rockchip-linux/rknpu drivers/npu_ko/galcore.ko)"),
]
# What rknn-toolkit2 2.5.0's init_runtime(target=, device_id=) ran over adb on a (virtual) board
# whose `ps` did not show rknn_server, in order (observed here; with rknn_server listed it skips
# the last three), and the adb service it then opened to reach rknn_server.
TOOLKIT2_DEVICE_COMMANDS = ["cat /proc/device-tree/compatible", "cat /proc/version", "uname -m",
                            "ps -A|grep rknn_server|grep -v grep", "killall rknn_server",
                            "chmod +x /usr/bin/rknn_server", "nohup /usr/bin/rknn_server > /dev/null 2>&1"]
TOOLKIT2_SERVER_SERVICE = "local:transfer_proxy"
