"""``python -m dl7``."""

from dl7 import main

main()
