"""`python -m coach`: the same entry point as the `coach` command."""

from coach.entry import main

if __name__ == "__main__":
    main()
