"""coach: a voice-guided audio coach.

Pipeline: loader -> compiler -> speech -> scheduler -> mixdown -> (MP3 sink | live sink).
"""

__version__ = "0.1.0"
