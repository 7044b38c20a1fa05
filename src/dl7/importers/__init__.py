"""Other tools' courses into dl7 courses (``dl7 import``): :mod:`dl7.importers.nbgrader` first."""
