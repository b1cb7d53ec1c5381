"""Coaching numbers of a routine as placed with real clip lengths: the longest silence in any rest
and in any work segment, words per second of the clips, dropped or moved cues.

Usage: python scripts/cue_stats.py [ROUTINE] [--engine pyttsx3|fake] [--rate WPM]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from coach import session  # noqa: E402
from coach.routine import loader  # noqa: E402
from coach.routine.model import Voice  # noqa: E402


def longest_silences(sess: session.Session) -> dict[str, tuple[int, int]]:
    """Per segment kind: (longest silence in ms, where it starts)."""
    out: dict[str, tuple[int, int]] = {}
    cues = sess.cues
    for seg in sess.timeline.segments:
        edges = [seg.start_ms]
        for c in cues:
            if c.end_ms > seg.start_ms and c.start_ms < seg.end_ms:
                edges += [max(seg.start_ms, c.start_ms), min(seg.end_ms, c.end_ms)]
        edges.append(seg.end_ms)
        gaps = [(edges[i + 1] - edges[i], edges[i]) for i in range(0, len(edges) - 1, 2)]
        best = max(gaps)
        kind = "rest" if seg.kind in ("rest", "round_rest", "lead_in") else seg.kind
        if best > out.get(kind, (-1, 0)):
            out[kind] = best
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("routine", nargs="?")
    parser.add_argument("--engine", default="pyttsx3")
    parser.add_argument("--rate", type=int)
    args = parser.parse_args()
    routine = loader.load(args.routine)
    with tempfile.TemporaryDirectory() as cache:
        opts = session.SpeechOptions(engine=args.engine, voice=Voice(rate=args.rate), cache_dir=cache)
        sess = session.prepare(routine, opts)
    for kind, (ms, at) in sorted(longest_silences(sess).items()):
        print(f"longest silence in {kind}: {ms / 1000:.1f} s (from {at / 1000:.1f} s)")
    rates = [len(c.speech.split()) / ((c.end_ms - c.start_ms) / 1000) for c in sess.cues if len(c.speech.split()) >= 3]
    print(f"words/s over {len(rates)} cues of 3+ words: median {statistics.median(rates):.2f}, "
          f"min {min(rates):.2f}, max {max(rates):.2f}; voice rate {sess.voice.rate}")
    print(f"cues placed {len(sess.cues)}; warnings {len(sess.warnings)}")
    for w in sess.warnings:
        print(f"  {w}")


if __name__ == "__main__":
    main()
