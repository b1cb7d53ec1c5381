"""`python -m coach`: the same entry point as the `coach` command.

A Ctrl-C that comes while coach.entry itself is imported (a few ms, longer on a loaded machine)
is reported as coach.entry would, one line and exit 130, not as Python's traceback and death by
SIGINT; only the interpreter's own start-up comes before this.
"""

import sys

try:
    from coach.entry import main
except KeyboardInterrupt:
    sys.stderr.write("coach: interrupted\n")
    sys.exit(130)

if __name__ == "__main__":
    main()
