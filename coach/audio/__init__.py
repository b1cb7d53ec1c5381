"""PCM from any position: mixdown, limiter, ducking, tones, music, loudness and mastering."""
