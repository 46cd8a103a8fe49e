"""Downloads against a local HTTP server on loopback: checksums, mirrors and failures."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from pathlib import Path

import pytest

from edgecnn.data import load_dataset
from edgecnn.errors import DataError


@pytest.fixture
def mirror(tmp_path):
    """Serve a folder over HTTP on 127.0.0.1 and yield (folder, base URL)."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def online(monkeypatch):
    monkeypatch.delenv("EDGECNN_OFFLINE", raising=False)


def test_download_from_mirror_checks_md5(data_dir, tmp_path, mirror, online):
    served, url = mirror
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(data_dir / "mnist" / name, served / name)
    root = tmp_path / "data"
    dataset = load_dataset("mnist", "test", root, allow_download=True, mirrors=(url,))
    assert len(dataset) == 10000
    assert (root / "mnist" / "t10k-images-idx3-ubyte.gz").is_file()
    assert not list((root / "mnist").glob("*.part"))


def test_download_rejects_wrong_checksum(data_dir, tmp_path, mirror, online):
    served, url = mirror
    (served / "t10k-images-idx3-ubyte.gz").write_bytes(b"tampered")
    with pytest.raises(DataError, match="md5"):
        load_dataset("mnist", "test", tmp_path / "data", allow_download=True, mirrors=(url,))
    assert not (tmp_path / "data" / "mnist" / "t10k-images-idx3-ubyte.gz").exists()


def test_download_falls_back_to_next_mirror(data_dir, tmp_path, mirror, online):
    served, url = mirror
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(data_dir / "mnist" / name, served / name)
    missing = url + "missing/"
    dataset = load_dataset("mnist", "test", tmp_path / "data", allow_download=True, mirrors=(missing, url))
    assert len(dataset) == 10000


def test_unreachable_mirror_is_one_error(tmp_path, online):
    # Port 9 on loopback (discard) is closed here, so the connection is refused at once.
    with pytest.raises(DataError, match="could not download"):
        load_dataset("mnist", "test", tmp_path / "data", allow_download=True, mirrors=("http://127.0.0.1:9/",))
    assert not (tmp_path / "data").exists()  # the folders made for the download are gone again
