"""``python -m dl7``."""

from dl7.cli import main

main()
