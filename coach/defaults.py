"""Every default a user can change, defined once: the options dataclasses take them from here
and the command line shows them from here (no numpy: `coach --help` stays fast)."""

TARGET_LUFS = -16.0  # integrated loudness of a rendered file
CEILING_DBTP = -1.0  # its true peaks' ceiling
# Music 18 LU under the voice between cues stays under BS.1770's relative gate, so a file with
# music measures what the voice alone does.
MUSIC_LEVEL_DB = -18.0
DUCK_DB = 12.0  # how far the music dips under speech
SAMPLE_RATE = 44100
FORMAT = "mp3"
CHAPTERS = "exercise"
MAX_WORKERS = 4  # speech workers, MP3 encoders and measuring threads: one per core, at most this many
ROUTINE = "lower-back"
SERVE_PORT = 8765  # `coach serve` listens here unless told --port
