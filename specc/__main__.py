"""``python -m specc``: the command line."""

from specc.cli import main

if __name__ == "__main__":
    main()
