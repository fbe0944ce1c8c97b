"""Polyphase resampling to 100 Hz, a block at a time, as a matrix product.

The result is `scipy.signal.resample_poly(x, up, down, padtype="line")`
(same filter, same placement of the output samples, same line extension past
both ends) to float32 rounding: a file read in blocks gives the samples a
whole-channel call gives. Two reasons not to call scipy on the whole channel:
it holds float64 copies of the whole channel at both rates, and its loop over
filter taps runs several times slower than float32 BLAS products of the
input's rows with the polyphase filter bank.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Callable

import numpy as np

#: Multiply-adds per matrix product. BLAS libraries compute a product this small on the calling thread
#: (OpenBLAS: up to 4 x 65536); a larger one wakes their thread pool, whose waiting threads cost more
#: CPU than they save on products this thin, most of all on a busy machine.
_SMALL_PRODUCT = 1 << 18


class Resampler:
    """Resamples `fs` to `target` Hz; `up`/`down` is the reduced ratio (256 → 100 Hz: 25/64)."""

    def __init__(self, fs: float, target: float) -> None:
        from scipy.signal import firwin

        ratio = Fraction(target / fs).limit_denominator(1000)
        up, down = ratio.numerator, ratio.denominator
        # scipy's design (resample_poly): a Kaiser-windowed sinc of 10 periods of the higher rate each side.
        max_rate = max(up, down)
        half_len = 10 * max_rate
        h = firwin(2 * half_len + 1, 1.0 / max_rate, window=("kaiser", 5.0)) * up
        n_pre_pad = down - half_len % down
        n_pre_remove = (half_len + n_pre_pad) // down
        h = np.concatenate([np.zeros(n_pre_pad), h])
        # Output q*up + r is sum_j h[t0 + j*up] * x[q*down + c - j] (t0, c fixed per phase r). Rows of
        # `k` phases' worth of input (at least 64 samples) make the input a plain reshape: each output
        # row reads `n_rows` consecutive input rows, one matrix product per row offset, no copies.
        k = -(-64 // down)
        self.up, self.down = k * up, k * down
        taps = []
        for q in range(k):
            for r in range(up):
                base = (r + n_pre_remove) * down
                t = h[base % up::up]
                taps.append((q * down + base // up, t))
        self.lo = min(c - len(t) + 1 for c, t in taps)
        width = max(c for c, _ in taps) - self.lo + 1
        self.n_rows = -(-width // self.down)
        bank = np.zeros((self.n_rows * self.down, self.up))
        for col, (c, t) in enumerate(taps):
            bank[c - self.lo - np.arange(len(t)), col] = t
        # float32: the samples are float32 µV and so is the result; float64 products cost several times more.
        self.banks = [np.ascontiguousarray(bank[i * self.down:(i + 1) * self.down], dtype=np.float32)
                      for i in range(self.n_rows)]
        self._piece = max(8, _SMALL_PRODUCT // (self.down * self.up))

    def n_out(self, n_in: int) -> int:
        return -(-n_in * self.up // self.down)

    def input_span(self, out_start: int, out_stop: int) -> tuple[int, int]:
        """Input samples [a, b) (may reach past either end) that outputs [out_start, out_stop) read;
        `out_start` must be a multiple of `up`."""
        q0, q1 = out_start // self.up, -(-out_stop // self.up)
        return q0 * self.down + self.lo, (q1 + self.n_rows - 1) * self.down + self.lo

    def block(self, xe: np.ndarray, out_start: int, out_stop: int, out: np.ndarray | None = None) -> np.ndarray:
        """Outputs [out_start, out_stop) from `xe`, the input over `input_span(out_start, out_stop)`,
        written into `out` (float32, that long) when given."""
        n = -(-out_stop // self.up) - out_start // self.up
        rows = np.ascontiguousarray(xe, dtype=np.float32).reshape(n + self.n_rows - 1, self.down)
        whole = out is not None and len(out) == n * self.up and out.flags.c_contiguous
        res = out.reshape(n, self.up) if whole else np.empty((n, self.up), dtype=np.float32)
        part = np.empty((self._piece, self.up), dtype=np.float32)
        for a in range(0, n, self._piece):
            b = min(n, a + self._piece)
            np.matmul(rows[a:b], self.banks[0], out=res[a:b])
            for i in range(1, self.n_rows):
                res[a:b] += np.matmul(rows[a + i:b + i], self.banks[i], out=part[:b - a])
        flat = res.reshape(-1)[: out_stop - out_start]
        if out is not None and not whole:
            out[:] = flat
        return out if out is not None else flat


def resample_stream(read: Callable[[int, int], np.ndarray], n_in: int, fs: float, target: float,
                    out: np.ndarray, block_in: int, on_block: Callable[[int], None] | None = None) -> int:
    """Resample `n_in` samples of one or more channels into `out` (channels, n) a block at a time.

    `read(a, b)` returns the input samples [a, b) (0 <= a < b <= n_in) as (channels, b - a); about
    `block_in` of them are read per call. Past both ends the input continues as scipy's "line"
    padding does (the line through the first and last samples). `on_block(k)` is called after each
    block with the number of input samples it covered. Returns the number of outputs written.
    """
    if Fraction(target / fs).limit_denominator(1000) == 1:
        n_out = min(n_in, out.shape[-1])
        for a in range(0, n_out, max(1, block_in)):
            b = min(n_out, a + max(1, block_in))
            out[:, a:b] = read(a, b)
            if on_block is not None:
                on_block(b - a)
        return n_out
    rs = Resampler(fs, target)
    n_out = min(rs.n_out(n_in), out.shape[-1])
    if n_in == 0 or n_out == 0:
        return 0
    first, last = read(0, 1)[:, :1], read(n_in - 1, n_in)[:, :1]
    slope = (last - first) / max(1, n_in - 1)
    step = max(1, block_in // rs.down) * rs.up
    done = 0
    # One input buffer for every block: a fresh one per block costs the page faults of a new mapping.
    a, b = rs.input_span(0, min(n_out, step))
    buf = np.empty((out.shape[0], b - a), dtype=np.float32)
    for o0 in range(0, n_out, step):
        o1 = min(n_out, o0 + step)
        a, b = rs.input_span(o0, o1)
        ra, rb = min(max(0, a), b), max(min(n_in, b), a)
        xe = buf[:, : b - a]
        if rb > ra:
            xe[:, ra - a:rb - a] = read(ra, rb)
        if ra > a:
            xe[:, :ra - a] = first + np.arange(a, ra) * slope
        if b > rb:
            xe[:, rb - a:] = last + (np.arange(rb, b) - (n_in - 1)) * slope
        for c in range(out.shape[0]):
            rs.block(xe[c], o0, o1, out=out[c, o0:o1])
        if on_block is not None:
            now = min(n_in, -(-o1 * rs.down // rs.up))
            on_block(now - done)
            done = now
    return n_out
