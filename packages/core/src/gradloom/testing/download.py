"""``download``: MXNet's ``test_utils.download``, used by example data helpers.

A file that is already there is returned without touching the network, so scripts whose
data was placed by hand run offline, as they do with MXNet.
"""
import os
import shutil
import time
import urllib.request

from ..base import GradloomError
from ..fileio import atomic_write


def download(url, fname=None, dirname=None, overwrite=False, retries=5):
    """Fetch ``url`` to ``fname`` (default: the URL's last path part, inside ``dirname``
    when given) and return the path; an existing file is kept unless ``overwrite``."""
    if retries < 1:
        raise GradloomError(f"download: retries must be at least 1, got {retries}")
    if fname is None:
        fname = url.split("/")[-1]
        if not fname:
            raise GradloomError(f"download: cannot name a file after {url!r}; pass fname=")
    if dirname is not None:
        fname = os.path.join(dirname, fname)
    if os.path.exists(fname) and not overwrite:
        return fname
    parent = os.path.dirname(os.path.abspath(fname))
    os.makedirs(parent, exist_ok=True)
    last = None
    for attempt in range(retries):
        try:
            with urllib.request.urlopen(url, timeout=60) as resp, \
                    atomic_write(fname, "wb") as out:
                shutil.copyfileobj(resp, out)
            return fname
        except OSError as exc:  # URLError and socket errors are OSErrors
            last = exc
            if attempt + 1 < retries:
                time.sleep(min(2 ** attempt, 10))
    raise GradloomError(f"download of {url} failed after {retries} attempt(s): {last}; "
                        f"fetch the file by other means and place it at {fname}")
