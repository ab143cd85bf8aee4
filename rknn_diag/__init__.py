"""rknn_diag: a test and diagnostic harness for Rockchip NPU toolchains."""

__version__ = "0.1.0"
