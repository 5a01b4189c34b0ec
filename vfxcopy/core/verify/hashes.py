"""Hashes in ASC MHL formats: file digests (cancellable), C4 ids, and ASC MHL directory hashes."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator

import xxhash

from vfxcopy.core.hashing import Hasher, new_hasher
from vfxcopy.core.jobs import CancelToken

TYPE_CHECKING = False  # typing's constant without importing typing at run time; type checkers take it as True
if TYPE_CHECKING:
    from typing import Any

# Our HashAlgo values and their ASC MHL element names (xxh3 in MHL is the 64-bit variant).
MHL_FORMAT = {"xxh3": "xxh128", "xxh64": "xxh64", "md5": "md5"}
# The order the XSD requires inside <hash> and directory containers.
MHL_FORMAT_ORDER = ("c4", "md5", "sha1", "xxh128", "xxh3", "xxh64")
# Which recorded format to check a file against when several are recorded: the fastest first
# (any of them proves the bytes; ascmhl takes the first in file order, which is c4 when present).
VERIFY_PREFERENCE = ("xxh128", "xxh3", "xxh64", "md5", "sha1", "c4")
CHUNK = 1 << 20  # bytes read (and hashed) between two cancel checks
# Read buffers, reused: a new 4 MiB bytes object for every read was fresh memory the kernel had to
# map page by page each time (200 files of 4 MiB: 199,000 page faults, 0.55 s of a 0.1 s verify).
_BUFFERS: list[memoryview] = []
_KEEP_BUFFERS = 4  # the window verifies a few jobs at once; more are made when needed, and dropped


def mhl_hasher(fmt: str) -> Hasher:
    """A hasher for an ASC MHL hash format name (c4 is handled by `c4_id`)."""
    ours = {mhl: algo for algo, mhl in MHL_FORMAT.items()}
    if fmt in ours:
        return new_hasher(ours[fmt])  # the very hashers the copier uses
    # Formats vfxcopy does not write but may find in a manifest made by another tool.
    if fmt == "xxh3":
        return xxhash.xxh3_64()
    if fmt == "sha1":
        import hashlib  # loads OpenSSL (11 M instructions, 3 ms): only for a manifest in sha1

        return hashlib.sha1(usedforsecurity=False)
    raise ValueError(f"unsupported hash format {fmt!r}")


_C4_CHARSET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def c4_from_sha512(digest: bytes) -> str:
    """The C4 id of a SHA-512 digest: base58, left-padded with '1' to 88 characters, prefixed 'c4'."""
    value = int.from_bytes(digest, "big")
    chars: list[str] = []
    while value:
        value, rem = divmod(value, 58)
        chars.append(_C4_CHARSET[rem])
    return "c4" + "".join(reversed(chars)).rjust(88, "1")


def c4_bytes(c4: str) -> bytes:
    """The SHA-512 digest behind a C4 id (inverse of `c4_from_sha512`)."""
    value = 0
    for ch in c4[2:]:
        value = value * 58 + _C4_CHARSET.index(ch)
    return value.to_bytes(64, "big")


def _sha512(data: bytes = b"") -> Any:
    """A SHA-512 hasher from the interpreter's own module: hashlib loads OpenSSL (11 M instructions,
    3 ms of every verified copy) for the one C4 id of a generation; both give the same digest."""
    try:
        from _sha512 import sha512  # CPython 3.11 (in 3.12 the module is _sha2)
    except ImportError:  # pragma: no cover - another interpreter
        from hashlib import sha512
    return sha512(data)


def c4_id(data: bytes) -> str:
    return c4_from_sha512(_sha512(data).digest())


def hash_path(
    path: str,
    fmt: str,
    token: CancelToken | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> str:
    """Hex digest of a file in an ASC MHL format, cancellable between 4 MiB chunks."""
    # O_NONBLOCK: a FIFO named like a listed file must not hang the check (it reads as empty).
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        if fmt == "c4":
            sha = _sha512()
            for chunk in _chunks(fd, token, on_chunk):
                sha.update(chunk)
            return c4_from_sha512(sha.digest())
        hasher = mhl_hasher(fmt)
        for chunk in _chunks(fd, token, on_chunk):
            hasher.update(chunk)
        return hasher.hexdigest()
    finally:
        os.close(fd)


def _chunks(fd: int, token: CancelToken | None, on_chunk: Callable[[int], None] | None) -> Iterator[memoryview]:
    """The file's bytes, CHUNK at a time, as views of one reused buffer: each is valid until the next."""
    buf = _BUFFERS.pop() if _BUFFERS else memoryview(bytearray(CHUNK))  # pop and append: atomic
    try:
        while True:
            if token is not None:
                token.check()
            try:
                n = os.readv(fd, [buf])
            except BlockingIOError:
                return  # a FIFO with no writer: nothing to hash, and never block
            if not n:
                return
            if on_chunk is not None:
                on_chunk(n)
            yield buf[:n]
    finally:
        if len(_BUFFERS) < _KEEP_BUFFERS:
            _BUFFERS.append(buf)


# -- directory hashes (ASC MHL 2.0, as ascmhl computes them) ----------------


def _decoder(fmt: str) -> Callable[[str], bytes]:
    """What turns a digest of `fmt` as written (hex, or a C4 id) into its bytes."""
    return c4_bytes if fmt == "c4" else bytes.fromhex


def digest_bytes(fmt: str, digest: str) -> bytes:
    return _decoder(fmt)(digest)


# One call for a few bytes (a folder hash hashes one name and digest per child: 20,000 hashers made).
_ONE_SHOT = {"xxh128": xxhash.xxh3_128_hexdigest, "xxh3": xxhash.xxh3_64_hexdigest, "xxh64": xxhash.xxh64_hexdigest}


def hash_bytes(fmt: str, data: bytes) -> str:
    if fmt == "c4":
        return c4_id(data)
    one_shot = _ONE_SHOT.get(fmt)
    if one_shot is not None:
        return str(one_shot(data))
    hasher = mhl_hasher(fmt)
    hasher.update(data)
    return hasher.hexdigest()


def hash_of_hashes(fmt: str, digests: Iterable[str]) -> str:
    """Hash of the sorted child digests' bytes (ascmhl's `hash_of_hash_list`)."""
    return hash_bytes(fmt, b"".join(map(_decoder(fmt), sorted(digests))))


def directory_hashes(fmt: str, children: Iterable[tuple[str, str, str | None]]) -> tuple[str, str]:
    """(content, structure) hash of a folder from its children (name, content hash, structure hash or None).

    A child file gives its content hash; a child folder its content and structure
    hashes. The structure hash covers each child's name with the child's file hash
    or folder structure hash, so a rename changes it while the content hash stays.
    """
    contents: list[str] = []
    structures: list[str] = []
    # Both chosen once for the folder, not per child (a folder of 10,000 files: 20,000 calls less).
    decode = _decoder(fmt)
    one_shot: Callable[[bytes], str] = _ONE_SHOT.get(fmt) or (lambda data: hash_bytes(fmt, data))
    for name, content, structure in children:
        contents.append(content)
        structures.append(one_shot(name.encode("utf-8") + decode(structure or content)))
    return hash_of_hashes(fmt, contents), hash_of_hashes(fmt, structures)
