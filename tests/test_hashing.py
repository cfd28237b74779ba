"""Large inputs are fingerprinted (size, mtime, first and last MiB), small ones hashed whole;
the network cache key follows the fingerprint and the manifest says which method."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from geoplan import hashing
from geoplan.hashing import METHOD_QUICK, METHOD_SHA256, file_digest

MIB = 1 << 20


@pytest.fixture
def quick_from_2mib(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fingerprint files from 2 MiB on (64 MiB in use), so tests write small files."""
    monkeypatch.setattr(hashing, "QUICK_HASH_MIN_BYTES", 2 * MIB)


def _big(path: Path, size: int = 8 * MIB) -> Path:
    """A sparse file of ``size`` bytes with data at both ends."""
    with open(path, "wb") as fh:
        fh.truncate(size)
        fh.write(b"head" * 1000)
        fh.seek(size - 4000)
        fh.write(b"tail" * 1000)
    return path


def _patch(path: Path, offset: int, data: bytes, keep_mtime: bool = False) -> None:
    st = path.stat()
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(data)
    if keep_mtime:
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_small_files_hashed_whole(tmp_path: Path, quick_from_2mib: None) -> None:
    p = tmp_path / "small.bin"
    p.write_bytes(os.urandom(2 * MIB - 1))
    assert file_digest(p) == (hashlib.sha256(p.read_bytes()).hexdigest(), METHOD_SHA256)
    # the content only: a new modification time does not change it
    os.utime(p, ns=(1, 1))
    assert file_digest(p)[0] == hashlib.sha256(p.read_bytes()).hexdigest()


def test_large_files_fingerprinted(tmp_path: Path, quick_from_2mib: None) -> None:
    p = _big(tmp_path / "big.osm.pbf")
    digest, method = file_digest(p)
    assert method == METHOD_QUICK and len(digest) == 64
    assert digest != hashlib.sha256(p.read_bytes()).hexdigest()
    assert file_digest(p) == (digest, method)  # stable
    seen = {digest}
    # the tail changes (same size and mtime): another key
    _patch(p, p.stat().st_size - 10, b"X", keep_mtime=True)
    seen.add(file_digest(p)[0])
    # the head changes
    _patch(p, 10, b"Y", keep_mtime=True)
    seen.add(file_digest(p)[0])
    # only the modification time changes
    st = p.stat()
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    seen.add(file_digest(p)[0])
    # only the size changes (the tail kept: a block appended before it is still seen)
    with open(p, "r+b") as fh:
        fh.truncate(st.st_size + MIB)
        fh.seek(st.st_size + MIB - 4000)
        fh.write(b"tail" * 1000)
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    seen.add(file_digest(p)[0])
    assert len(seen) == 5
    # what the fingerprint does not read: the middle, when size and mtime stay
    before = file_digest(p)[0]
    _patch(p, 4 * MIB, b"Z", keep_mtime=True)
    assert file_digest(p)[0] == before


def test_network_cache_key_follows_the_fingerprint(tmp_path: Path,
                                                   quick_from_2mib: None) -> None:
    from geoplan.config import config_from_dict
    from geoplan.network.prepare import network_cache_key

    big = _big(tmp_path / "city.osm.pbf")
    (tmp_path / "f.csv").write_text("name,lon,lat\nA,121.5,31.28\n", encoding="utf-8")
    raw = {"study_area": {"name": "t"}, "paths": {"data_root": str(tmp_path)},
           "network": {"osm_files": ["city.osm.pbf"]},
           "facilities": [{"type": "canteen", "path": "f.csv"}]}
    key = network_cache_key(config_from_dict(raw, base_dir=tmp_path))
    assert network_cache_key(config_from_dict(raw, base_dir=tmp_path)) == key
    _patch(big, big.stat().st_size - 1, b"!", keep_mtime=True)
    key2 = network_cache_key(config_from_dict(raw, base_dir=tmp_path))
    assert key2 != key
    st = big.stat()
    os.utime(big, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert network_cache_key(config_from_dict(raw, base_dir=tmp_path)) not in (key, key2)


def test_manifest_states_the_hash_method(tmp_path: Path, quick_from_2mib: None) -> None:
    from geoplan.outputs.manifest import RunManifest

    big = _big(tmp_path / "province.osm.pbf")
    small = tmp_path / "fac.csv"
    small.write_text("name,lon,lat\nA,121.5,31.28\n", encoding="utf-8")
    man = RunManifest({"study_area": {"name": "t"}}, seed=1, command="geoplan run")
    e_big = man.add_input(big, "osm")
    e_small = man.add_input(small, "facilities")
    assert e_big["hash_method"] == "size-mtime-head-tail"
    assert e_big["sha256"] == file_digest(big)[0]
    assert e_big["size_bytes"] == 8 * MIB
    assert e_small["hash_method"] == "sha256"
    assert e_small["sha256"] == hashlib.sha256(small.read_bytes()).hexdigest()
    out = tmp_path / "manifest.json"
    man.write(out)
    data = json.loads(out.read_text(encoding="utf-8"))
    methods = {Path(i["path"]).name: i["hash_method"] for i in data["inputs"]}
    assert methods == {"province.osm.pbf": "size-mtime-head-tail", "fac.csv": "sha256"}

