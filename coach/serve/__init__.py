"""`coach serve`: the session's MP3 and a display in step with it, for a phone's browser.

`sessions` renders the routines and describes them, `app` answers the requests (the key, the
pages, the files), `server` listens and prints the address; `static/` holds the pages.
"""
