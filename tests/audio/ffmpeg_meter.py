"""ffmpeg's ebur128 over a whole mix as it streams: the tests' independent check of the
in-process meter and the voice's estimate (coach itself never renders a mix just to measure it)."""

from __future__ import annotations

from coach.audio.ebur128 import StreamMeter
from coach.audio.meter import Loudness
from coach.audio.mixdown import Mixdown


def measure(mix: Mixdown, true_peak: bool = True) -> Loudness:
    """Loudness of `mix` rendered front to back (float, 1.0 = full scale) through ffmpeg's meter."""
    meter = StreamMeter(mix.rate, mix.channels, true_peak=true_peak)
    try:
        for chunk in mix.float_chunks():
            meter.feed(chunk)
        return meter.result()
    finally:
        meter.close()
