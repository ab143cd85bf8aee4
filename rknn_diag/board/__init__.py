"""The board layer: boards reached through an adb server, and virtual boards.

- discovery: which boards an adb server lists; a handle on one (adbutils)
- facts: chip, NPU generation and firmware versions read from a board
- steps: deadlines, argument quoting and error mapping for every board step
- locks: one holder per board across processes (pytest-xdist workers)
- runner: the standalone script run on the board (rknn-toolkit-lite2)
- virtual, adbproto, vshell, sandbox, profile: the virtual board (ADB device side)
- virtual_cli: `rknn-diag virtual-board`
"""
