"""coach: a voice-guided audio coach.

Pipeline, one subpackage a stage: routine (loader) -> plan (compiler, scheduler) -> speech ->
audio (mixdown) -> output (the MP3 sink) | live (the live sink).
"""

__version__ = "0.1.0"
