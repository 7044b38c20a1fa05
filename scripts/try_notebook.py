"""Dev aid: execute a source notebook solved and unsolved, print each check bundle.

Usage: python scripts/try_notebook.py notebooks/step1/x.ipynb
"""

import sys
import time

import nbformat
from nbclient import NotebookClient

from dl7.authoring import learner_version
from dl7.checks import MIME_TYPE

path = sys.argv[1]
nb = nbformat.read(path, as_version=4)
for label, version in (("solved", nb), ("unsolved", nbformat.from_dict(learner_version(nb)))):
    start = time.perf_counter()
    client = NotebookClient(
        version,
        timeout=300,
        allow_errors=True,
        kernel_name="python3",
        resources={"metadata": {"path": str(__import__("pathlib").Path(path).parent)}},
    )
    client.execute()
    print(f"== {label}: {time.perf_counter() - start:.1f} s")
    for i, cell in enumerate(version.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                print(f"  cell {i}: {out['ename']}: {out['evalue'][:120]}")
            data = out.get("data", {})
            if MIME_TYPE in data:
                b = data[MIME_TYPE]
                print(f"  {b['id']}: {b['status']} — {b['message'][:150]}")
