"""PCM from any position: mixdown, limiter, ducking, tones, music; the meter, a file decoded for
measuring, the voice's level, ffmpeg's meter for music, and mastering."""
