"""nbformat, imported without the format checkers that jsonschema would otherwise load.

Importing nbformat imports jsonschema, whose format checkers import every optional package
they can find: ``rfc3987_syntax`` (which builds an Earley grammar at import: about 1.5 s of the
2 s `dl7 run` spent before its kernel started), ``isoduration`` (and with it ``arrow``),
``webcolors``, ``fqdn``... JupyterLab installs them all, through jupyter-events. nbformat
validates notebooks against a Draft 4 schema without format checking, so none of them is ever
used: while nbformat (and with it jsonschema) is imported here, they read as absent, and
jsonschema leaves those checkers out, as it does when the packages are not installed.
Nothing else changes: a later import of any of them in this process works as usual, and the
kernel is another process.
"""

from __future__ import annotations

import sys

# The optional imports of jsonschema/_format.py (jsonschema 4.x).
FORMAT_CHECKER_PACKAGES = (
    "fqdn",
    "idna",
    "isoduration",
    "jsonpointer",
    "rfc3339_validator",
    "rfc3986_validator",
    "rfc3987",
    "rfc3987_syntax",
    "uri_template",
    "webcolors",
)

_blocked = (
    []
    if "jsonschema._format" in sys.modules
    else [name for name in FORMAT_CHECKER_PACKAGES if name not in sys.modules]
)
for _name in _blocked:
    sys.modules[_name] = None  # type: ignore[assignment]  # `import` now raises ImportError
try:
    import nbformat
finally:
    for _name in _blocked:
        if _name in sys.modules and sys.modules[_name] is None:
            del sys.modules[_name]

__all__ = ["nbformat"]
