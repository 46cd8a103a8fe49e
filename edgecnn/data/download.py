"""Download of missing data set files from public mirrors, with checksums checked."""

from __future__ import annotations

import hashlib
import logging
import os
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from edgecnn import fileio
from edgecnn.errors import DataError

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0  # short, so an offline machine fails fast instead of hanging


@dataclass(frozen=True)
class RemoteFile:
    """A file published on one or more mirrors, with the checksum of its bytes."""

    name: str
    mirrors: tuple[str, ...]  # base URLs, tried in order; the file name is appended
    md5: str


def offline() -> bool:
    """Return whether EDGECNN_OFFLINE turns downloads off."""
    return os.environ.get("EDGECNN_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def file_md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(remote: RemoteFile, folder: Path, timeout_s: float = CONNECT_TIMEOUT_S) -> Path:
    """Download one file into folder, trying each mirror; the file appears only once its checksum matches.

    When every mirror fails, the folders created for the file are removed again.
    """
    new_folder = fileio.outermost_missing(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / remote.name
    failures = []
    for base in remote.mirrors:
        url = base.rstrip("/") + "/" + remote.name
        log.info("downloading %s", url)
        handle, partial_name = tempfile.mkstemp(dir=folder, prefix=f".{remote.name}.", suffix=".part")
        partial = Path(partial_name)
        try:
            with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=timeout_s) as response:
                for block in iter(lambda: response.read(1 << 20), b""):
                    out.write(block)
            actual = file_md5(partial)
            if actual != remote.md5:
                failures.append(f"{url}: md5 {actual} does not match {remote.md5}")
                continue
            os.replace(partial, target)
            return target
        except (urllib.error.URLError, OSError, ValueError) as error:
            failures.append(f"{url}: {getattr(error, 'reason', error)}")
        finally:
            partial.unlink(missing_ok=True)
    fileio.remove_empty_folders(folder, up_to=new_folder)
    raise DataError(f"could not download {remote.name} ({'; '.join(failures)}); copy the file into {folder} "
                    "from a machine that has it, or pass --data-dir with the folder that holds the data sets")


def extract_tar(archive: Path, folder: Path) -> None:
    """Unpack a tar.gz, accepting only regular files and folders that stay inside folder."""
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(folder, filter="data")
