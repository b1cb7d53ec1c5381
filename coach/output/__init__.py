"""The file sink: render, encode, MP3 splicing, tags, cover, chapters, subtitles, remembered mastering,
up to date."""
