"""Ctrl-C during a long bootstrap: SIGINT raises KeyboardInterrupt within a fraction of a second
instead of after every resample (crates/python/src/interrupt.rs, `bootstrap_until`)."""
import os
import signal
import threading
import time

import numpy as np
import pytest

import pzbench

RNG = np.random.default_rng(11)
Z_SPEC = RNG.uniform(0.0, 3.0, 200_000)
Z_PHOT = Z_SPEC + 0.05 * (1 + Z_SPEC) * RNG.standard_normal(Z_SPEC.size)


def seconds_per_resample():
    """The time one bootstrap resample of the test's galaxies takes here (from 8 resamples)."""
    start = time.perf_counter()
    pzbench.score(Z_SPEC, Z_PHOT, bootstrap=8)
    return (time.perf_counter() - start) / 8


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="needs POSIX signals")
def test_ctrl_c_stops_a_long_bootstrap():
    resamples = 100_000
    expected = resamples * seconds_per_resample()
    assert expected > 30, f"the bootstrap would take only {expected:.0f} s: make it longer"
    # Python's own Ctrl-C handler, also where the test runs in a background job (which a shell
    # starts with SIGINT ignored, so that Python would install none).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))
    start = time.perf_counter()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            pzbench.score(Z_SPEC, Z_PHOT, bootstrap=resamples)
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    elapsed = time.perf_counter() - start
    assert elapsed < 5, f"KeyboardInterrupt came {elapsed:.1f} s after the start (the signal at 1 s)"
    # The extension is still usable, and its results unchanged.
    assert pzbench.score([0.5, 1.0], [0.52, 0.97]) == pzbench.score([0.5, 1.0], [0.52, 0.97])


def test_other_threads_run_while_scoring():
    """The GIL is released: a Python thread keeps counting while a bootstrap runs (it could not
    count at all if the call held the GIL)."""
    counted, done = [0], threading.Event()

    def count():
        while not done.is_set():
            counted[0] += 1

    counter = threading.Thread(target=count)
    counter.start()
    try:
        before = counted[0]
        pzbench.score(Z_SPEC, Z_PHOT, bootstrap=8)
        during = counted[0] - before
    finally:
        done.set()
        counter.join()
    assert during > 10_000
