"""``python -m ponder.server --model SPEC [--port 8000] ...`` (the same as ``ponder serve``)."""

from .cli import main

if __name__ == "__main__":
    main()
