"""10 000 inferences in one process: descriptors and memory stay flat (guide §1.5.1
was a descriptor leak in the vendor's toolkit)."""

import os
import resource

import numpy as np

from fixtures import models

from .conftest import runtime


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_ten_thousand_inferences_leave_fds_and_memory_flat(built):
    path, _ = built(models.conv_bn_relu(channels_out=4, size=4))
    r = runtime(path)
    x = np.zeros((1, 4, 4, 3), np.float32)
    for _ in range(500):               # warm-up: allocator pools, lazy imports
        r.inference(inputs=[x])
    fds, rss = _open_fds(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(10_000):
        assert r.inference(inputs=[x]) is not None
    assert _open_fds() == fds
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss
    assert grown_kib < 20 * 1024, f"peak RSS grew by {grown_kib} KiB over 10 000 inferences"
