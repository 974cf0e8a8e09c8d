"""python -m bot: serve the app."""

import sys

from .cli import main

raise SystemExit(main(["serve", *sys.argv[1:]]))
