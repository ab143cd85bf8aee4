"""What a virtual board pretends to be (`BoardProfile`) and what goes wrong on it
(`Faults`), and the board files that follow from the profile.

Version lines have the form the vendor's published binaries carry (checked against
rockchip-linux/rknpu2 and rockchip-linux/rknpu runtime files and boards' logs; the lines with
their sources are tests/board/vendor_version_lines.py): RKNPU2 rknn_server
"rknn_server version: X (8babfea build@...)", librknnrt "librknnrt version: X (c6b7b351a@...)",
the mini runtime librknnmrt.so on RV1103/RV1106, the driver "RKNPU driver: vX" in debugfs and
"[drm] Initialized rknpu X ..." in dmesg; RKNPU1 rknn_server "X (bb79b30 build: ...)",
"librknn_runtime version X (ccb93f1 build: ...)", "Galcore version X" in dmesg, and the Mini
Driver shown by libVSC_Lite.so and no rknn_server.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .chips import (COMPATIBLE_FILE, MINI_RUNTIME_LIB, RKNN_SERVER, RKNPU1_MINI_MARK,
                    RKNPU2_DRIVER_VERSION_FILE, RUNTIME_LIB, generation)

# Defaults per generation: a consistent firmware set (guide §1.7.2 table for RKNPU1).
_DEFAULTS = {
    "rknpu1": {"rknn_server": "1.4.0", "runtime": "1.4.0", "npu_driver": "6.4.0.227915"},
    "rknpu2": {"rknn_server": "2.3.2", "runtime": "2.3.2", "npu_driver": "0.9.8"},
}


@dataclass
class Faults:
    """Faults a virtual board injects. Mutable while the board runs (tests flip them)."""

    drop_after_bytes: int | None = None      # drop the connection once a sync transfer passed N bytes
    hang: bool = False                       # stop answering anything (connection stays open)
    hang_on_runner: bool = False             # stop answering when the runner command arrives
    delay_s: float = 0.0                     # delay before every packet the board sends
    mismatch_versions: bool = False          # rknn_server reports a version that differs from the runtime
    corrupt_outputs: bool = False            # flip bytes in pulled output*.npy files
    wrong_results: float = 0.0               # firmware bug: the runtime scales results by (1 + this),
                                             # written and hashed as if right (only comparison finds it)
    disappear_after_runs: int | None = None  # after N runner runs, the next runner command finds the board gone
    hang_after_runs: int | None = None       # after N runner runs, the board stops answering anything


@dataclass
class BoardProfile:
    chip: str = "rk3588"
    arch: str = "aarch64"
    os: str = "Debian GNU/Linux 11 (bullseye)"
    rknn_server: str | None = None
    runtime: str | None = None
    npu_driver: str | None = None
    mini_driver: bool = False
    product: str | None = None
    serial_number: str = "virtual0001"
    simulator: bool = True  # models run on rknn_diag's simulator (False: pretend a vendor runtime)
    faults: Faults = field(default_factory=Faults)

    def __post_init__(self):
        self.chip = self.chip.lower()
        gen = generation(self.chip)
        if gen is None:
            raise ValueError(f"unknown chip {self.chip!r}: expected one of the RKNPU1/RKNPU2 chips "
                             "in rknn_diag.board.chips")
        self.generation = gen
        for key, value in _DEFAULTS[gen].items():
            if getattr(self, key) is None:
                setattr(self, key, value)
        if self.product is None:
            self.product = f"{self.chip}_virtual"

    @property
    def android(self) -> bool:
        return self.os.lower().startswith("android")

    def reported_server_version(self) -> str:
        if not self.faults.mismatch_versions:
            return self.rknn_server
        major, minor, *rest = (self.rknn_server.split(".") + ["0", "0"])[:3]
        return f"{major}.{int(minor) + 1 if minor.isdigit() else minor}.{rest[0]}"

    def banner(self) -> bytes:
        # No shell_v2/stat_v2/ls_v2: hosts then use the legacy shell and sync v1,
        # which is what we implement. fixed_push_mkdir: SEND creates parent folders.
        props = (f"ro.product.name={self.product};ro.product.model={self.chip.upper()}_VIRTUAL;"
                 f"ro.product.device={self.chip};")
        return f"device::{props}features=fixed_push_mkdir".encode()

    def properties(self) -> dict[str, str]:
        props = {
            "ro.product.name": self.product,
            "ro.product.model": f"{self.chip.upper()}_VIRTUAL",
            "ro.product.device": self.chip,
            "ro.board.platform": self.chip,
            "ro.product.cpu.abi": "arm64-v8a" if self.arch == "aarch64" else "armeabi-v7a",
            "ro.serialno": self.serial_number,
        }
        if self.simulator:
            # Tells the harness that models run on rknn_diag's simulator here.
            props["ro.rknn_diag.runtime"] = "simulator"
        if self.android:
            props["ro.build.version.release"] = self.os.split()[-1]
        return props

    def files(self) -> dict[str, bytes]:
        """Read-only board files, by board path."""
        files = {
            COMPATIBLE_FILE: f"rockchip,{self.chip}-evb-v10\0rockchip,{self.chip}\0".encode(),
            "/proc/version": (f"Linux version 5.10.160 (builder@rknn-diag) (gcc 10.3) "
                              f"#1 SMP PREEMPT {self.chip} virtual\n").encode(),
        }
        server = self.reported_server_version()
        if self.generation == "rknpu1":
            files[RUNTIME_LIB["rknpu1"]] = _fake_binary(
                f"librknn_runtime version {self.runtime} (ccb93f1 build: 2023-07-18 10:48:49 base: 1131)")
            if self.mini_driver:                   # the Mini Driver: VSC_Lite, no rknn_server
                files[RKNPU1_MINI_MARK] = _fake_binary("VSC lite")
            else:
                files[RKNN_SERVER] = _fake_binary(f"{server} (bb79b30 build: 2023-07-18 10:49:14)",
                                                  "start rknn server, version:%s")
        else:
            lib = MINI_RUNTIME_LIB if self.mini_driver else RUNTIME_LIB["rknpu2"]
            name = "librknnmrt" if self.mini_driver else "librknnrt"
            files[lib] = _fake_binary(f"{name} version: {self.runtime} (c6b7b351a@2023-08-23T15:29:04)")
            files[RKNN_SERVER] = _fake_binary(f"rknn_server version: {server} (8babfea build@2023-08-25T10:29:51)",
                                              "start rknn server, version:%s")
            files[RKNPU2_DRIVER_VERSION_FILE] = f"RKNPU driver: v{self.npu_driver}\n".encode()
        if not self.android:
            files["/etc/os-release"] = f'PRETTY_NAME="{self.os}"\nID=linux\n'.encode()
        return files

    def dmesg(self) -> str:
        lines = [f"[    0.000000] Booting Linux on physical CPU 0x0 ({self.chip} virtual board)",
                 "[    0.000000] Linux version 5.10.160 (builder@rknn-diag)"]
        if self.generation == "rknpu1":
            lines.append("[    2.391001] galcore: clk_get vg clock failed, disable vg!")
            lines.append(f"[    2.391145] Galcore version {self.npu_driver}")
        else:
            lines.append(f"[    2.391145] [drm] Initialized rknpu {self.npu_driver} for fdab0000.npu on minor 1")
        lines.append("[    3.100000] rknn_server: listening")
        return "\n".join(lines) + "\n"


def _fake_binary(*strings: str) -> bytes:
    # Some non-printable filler around the strings, like an ELF file has.
    filler = b"\x7fELF\x02\x01\x01\x00" + bytes(range(0, 32)) * 4
    return filler + b"\x00".join(s.encode() for s in strings) + b"\x00" + filler
