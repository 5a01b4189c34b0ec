"""Hasher factory for copy verification: xxh3-128 (default), xxh64, md5; hex digests."""

from __future__ import annotations

import os
from typing import Protocol

import xxhash

from vfxcopy.core.jobs import HashAlgo


class Hasher(Protocol):
    """The part of the hashlib/xxhash interface the engine uses."""

    def update(self, data: bytes | bytearray | memoryview, /) -> None: ...

    def hexdigest(self) -> str: ...


def new_hasher(algo: HashAlgo | str = HashAlgo.XXH3) -> Hasher:
    """A fresh hasher for `algo` ('xxh3' is xxh3-128)."""
    algo = HashAlgo(algo)
    if algo is HashAlgo.XXH3:
        return xxhash.xxh3_128()
    if algo is HashAlgo.XXH64:
        return xxhash.xxh64()
    import hashlib  # loads OpenSSL (tens of ms): only when md5 is asked for

    return hashlib.md5(usedforsecurity=False)


def hash_fd(fd: int, algo: HashAlgo | str = HashAlgo.XXH3, chunk: int = 4 << 20) -> tuple[str, int]:
    """Hash a whole open file from offset 0 with pread; returns (hex digest, bytes read)."""
    hasher = new_hasher(algo)
    buf = bytearray(chunk)
    view = memoryview(buf)
    offset = 0
    while True:
        n = os.preadv(fd, [view], offset)
        if n == 0:
            break
        hasher.update(view[:n])
        offset += n
    return hasher.hexdigest(), offset


def hash_file(path: str | os.PathLike[str], algo: HashAlgo | str = HashAlgo.XXH3) -> str:
    """Hex digest of a file's bytes."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        return hash_fd(fd, algo)[0]
    finally:
        os.close(fd)
