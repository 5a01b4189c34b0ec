"""The generation reader's fast route (mhl_parse._fast_hash_list) reads what expat reads, or declines.

A copy into a folder with a long ASC MHL history reads every generation at every run;
the runs of <hash> elements in our layout are read with one regular expression per
file instead of expat's callbacks. These tests hold the fast route to the expat
route (mhl_parse._hash_list on the whole file) on what we write, on what the
reference tool writes, on hand-made traps and on thousands of damaged files: the
same HashList, or the same error.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest

from vfxcopy.core.verify import hash_path, mhl_parse, mhl_read, write_generation
from vfxcopy.core.verify.mhl_parse import BadHistory, HashList
from vfxcopy.core.verify.mhl_write import ManifestEntry

from .test_mhl import ascmhl, copy_job, generations


def view(hash_list: HashList) -> tuple[object, ...]:
    """Everything a HashList holds, for comparing two readings."""
    return (hash_list.file_path, hash_list.number, hash_list.ignore, hash_list.references,
            [(m.is_dir, m.path, m.size, m.previous, [(e.fmt, e.value, e.action, e.structure) for e in m.entries])
             for m in hash_list.media])


def expat_reading(path: str, data: bytes) -> tuple[str, object]:
    try:
        return "ok", view(mhl_parse._hash_list(path, 7, data))
    except BadHistory as exc:
        return "bad", str(exc)
    except ValueError as exc:
        return "value", str(exc)


def our_reading(path: Path, data: bytes) -> tuple[str, object]:
    """What parse_hash_list (the fast route first) makes of `data` written at `path`."""
    path.write_bytes(data)
    try:
        return "ok", view(mhl_parse.parse_hash_list(str(path), 7))
    except BadHistory as exc:
        return "bad", str(exc)
    except ValueError as exc:
        return "value", str(exc)


NAME_CHARS = "abcXYZ019._- é日本&<>'\"\t"


def random_name(rng: random.Random) -> str:
    name = "".join(rng.choice(NAME_CHARS) for _ in range(rng.randint(1, 12))).strip()
    return name if name not in ("", ".", "..") else "x"


def test_generations_we_write_take_the_fast_route_and_read_as_expat_reads_them(tmp_path: Path) -> None:
    rng = random.Random(12)
    root = tmp_path / "delivery"
    root.mkdir()
    fast_files = 0
    for generation in range(12):
        entries = []
        for i in range(rng.randint(1, 40)):
            # Mostly plain frame names (the run), some with markup or entities (the run ends there),
            # some in sub-folders (folder hashes after the run), now and then one we wrote before.
            folder = rng.choice(["", "", "", "shot010/", "shot020/plates/"])
            name = f"plate.{1000 + i}.exr" if rng.random() < 0.8 else random_name(rng)
            rel = folder + (f"g{generation}_" + name if rng.random() < 0.9 else name)
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            data = os.urandom(rng.randint(0, 64))
            path.write_bytes(data)
            fmt = rng.choice(["xxh128", "xxh128", "md5", "xxh64"])
            digest = f"{rng.getrandbits(128):032x}" if fmt != "xxh64" else f"{rng.getrandbits(64):016x}"
            entries.append(ManifestEntry(rel, len(data), time.time(), fmt, digest, fresh=rng.random() < 0.8))
        unique = {e.path: e for e in entries}
        write_generation(root, list(unique.values()))
    for gen in generations(root):
        data = gen.read_bytes()
        fast = mhl_parse._fast_hash_list(str(gen), 7, data)
        if fast is not None:
            fast_files += 1
            assert view(fast) == expat_reading(str(gen), data)[1], gen.name
        assert view(mhl_parse.parse_hash_list(str(gen), 7)) == expat_reading(str(gen), data)[1]
    assert fast_files >= 11  # the route is taken, not merely correct when declined


def test_a_long_history_reads_as_before_and_faster(tmp_path: Path) -> None:
    """40 generations of 50 frames: load_history equals the expat reading; the fast route reads each file."""
    dest = tmp_path / "dest"
    for seq in range(40):
        src = tmp_path / f"s{seq}"
        src.mkdir()
        for frame in range(50):
            (src / f"sh{seq:03d}.{1001 + frame}.exr").write_bytes(bytes([seq, frame]) * 10)
        copy_job([src / f"sh{seq:03d}.1001.exr"], dest)
    files = generations(dest)
    assert len(files) == 40
    slow = [view(mhl_parse._hash_list(str(f), 0, f.read_bytes())) for f in files]
    assert all(mhl_parse._fast_hash_list(str(f), 0, f.read_bytes()) is not None for f in files)
    assert [view(mhl_parse.parse_hash_list(str(f), 0)) for f in files] == slow
    mhl_read._hash_lists.clear()
    mhl_read._digests.clear()
    mhl_read._chains.clear()
    history = mhl_read.load_history(dest)
    assert len(history.records) == 2000 and history.records["sh039.1050.exr"].generation == 40


def test_histories_the_reference_tool_writes_read_as_expat_reads_them(tmp_path: Path) -> None:
    root = tmp_path / "card"
    for i in range(5):
        (root / "clips").mkdir(parents=True, exist_ok=True)
        (root / "clips" / f"A{i}.mov").write_bytes(bytes([i]) * 100)
        (root / f"take{i}.wav").write_bytes(bytes([i]) * 50)
    assert ascmhl("create", root, "-h", "xxh128", tool="ascmhl").returncode == 0
    (root / "clips" / "B.mov").write_bytes(b"b" * 10)
    assert ascmhl("create", root, "-h", "md5", "-h", "xxh128", tool="ascmhl").returncode == 0
    for gen in generations(root):
        data = gen.read_bytes()
        assert our_reading(tmp_path / "copy.mhl", data) == expat_reading(str(tmp_path / "copy.mhl"), data)


HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<hashlist xmlns="urn:ASC:MHL:v2.0" version="2.0">\n'
ENTRY = ('    <hash>\n      <path size="{size}" lastmodificationdate="2026-01-01T00:00:00+00:00">{name}</path>\n'
         '      <xxh128 action="original" hashdate="2026-01-01T00:00:00+00:00">{digest}</xxh128>\n    </hash>\n')
RUN = "".join(ENTRY.format(size=i, name=f"f{i}.exr", digest=f"{i:032x}") for i in range(3))
PLAIN = HEAD + "  <hashes>\n" + RUN + "  </hashes>\n</hashlist>\n"

TRAPS = {
    "plain": PLAIN,
    "a doctype before": PLAIN.replace("<hashlist", '<!DOCTYPE hashlist [<!ENTITY e "x">]>\n<hashlist', 1),
    "the run in a comment": HEAD + "  <!--<hashes>\n" + RUN + "  -->\n  <hashes>\n  </hashes>\n</hashlist>\n",
    "the run in CDATA": HEAD + "  <processinfo><![CDATA[<hashes>\n" + RUN + "]]></processinfo>\n</hashlist>\n",
    "the run inside processinfo": HEAD + "  <processinfo>\n  <hashes>\n" + RUN + "  </hashes>\n  </processinfo>\n"
                                  "</hashlist>\n",
    "the run inside a reference": HEAD + "  <hashlistreference>\n<hashes>\n" + RUN + "</hashes>\n"
                                  "  </hashlistreference>\n</hashlist>\n",
    "a hash before the run": HEAD + ENTRY.format(size=9, name="first.exr", digest="ab" * 16) + "  <hashes>\n" + RUN
                             + "  </hashes>\n</hashlist>\n",
    "another encoding": PLAIN.replace("UTF-8", "ISO-8859-1", 1).replace("f1.exr", "f\u00e9.exr"),
    "latin-1 bytes": PLAIN.replace("f1.exr", "f\udce9.exr"),
    "a stand-in of its own": PLAIN.replace("  </hashes>", "  <vfxcopy-run/>\n  </hashes>"),
    "an entity in a name": PLAIN.replace("f1.exr", "R&amp;D.exr"),
    "an undefined entity": PLAIN.replace("f1.exr", "R&nope;D.exr"),
    "a character reference": PLAIN.replace("f1.exr", "a&#10;b.exr"),
    "a control character": PLAIN.replace("f1.exr", "a\x01b.exr"),
    "a tab and a carriage return": PLAIN.replace("f1.exr", "a\tb\rc.exr"),
    "a root entry": PLAIN.replace("f1.exr", "."),
    "an empty name": PLAIN.replace("f1.exr", ""),
    "an empty digest": PLAIN.replace(f"{1:032x}", ""),
    "leading zeros": PLAIN.replace('size="2"', 'size="0002"'),
    "mismatched tags": PLAIN.replace("</xxh128>", "</md5>", 1),
    "unclosed hashes": PLAIN.replace("  </hashes>\n", ""),
    "junk after the root": PLAIN + "<hash/>\n",
    "the run after the root": HEAD + "</hashlist>\n<hashes>\n" + RUN,
    "no declaration": PLAIN.split("\n", 1)[1],
    "single quotes": PLAIN.replace('version="1.0" encoding="UTF-8"', "version='1.0' encoding='UTF-8'"),
    "CRLF line ends": PLAIN.replace("\n", "\r\n"),
    "two hashes for one file": PLAIN.replace("    </hash>\n", '      <md5 action="original">' + "cd" * 16
                                             + "</md5>\n    </hash>\n", 1),
    "a second hashes": PLAIN.replace("</hashlist>", "  <hashes>\n" + RUN + "  </hashes>\n</hashlist>"),
    "a duplicate attribute": PLAIN.replace('<path size="1"', '<path size="1" size="2"'),
    "an unknown action": PLAIN.replace('action="original"', 'action="new"', 1),
    "a folder hash after the run": PLAIN.replace(
        "  </hashes>", "    <directoryhash>\n      <path>sub</path>\n      <content>\n        <xxh128 action=\"original\">"
        + "ef" * 16 + "</xxh128>\n      </content>\n      <structure>\n        <xxh128 action=\"original\">"
        + "12" * 16 + "</xxh128>\n      </structure>\n    </directoryhash>\n  </hashes>"),
    "a reference after the run": PLAIN.replace(
        "</hashlist>", "  <references>\n    <hashlistreference>\n      <path>A/ascmhl/0001_A.mhl</path>\n"
        "      <c4>c4abc</c4>\n    </hashlistreference>\n  </references>\n</hashlist>"),
}


@pytest.mark.parametrize("name", sorted(TRAPS))
def test_traps_read_as_expat_reads_them(tmp_path: Path, name: str) -> None:
    data = TRAPS[name].encode("utf-8", "surrogateescape")
    path = tmp_path / "0001_x.mhl"
    assert our_reading(path, data) == expat_reading(str(path), data)


def test_a_doctype_is_still_refused_and_what_it_declares_never_expanded(tmp_path: Path) -> None:
    path = tmp_path / "0001_x.mhl"
    kind, message = our_reading(path, TRAPS["a doctype before"].encode())
    assert kind == "bad" and "document type declaration" in str(message)


def test_damaged_generations_read_as_expat_reads_them(tmp_path: Path) -> None:
    """4,000 copies of a generation we wrote, each damaged at random places with the characters XML
    turns on: each is read as expat reads it (the same entries) or refused with expat's message."""
    root = tmp_path / "d"
    root.mkdir()
    entries = []
    for i in range(6):
        (root / f"p.{i}.exr").write_bytes(b"x" * i)
        entries.append(ManifestEntry(f"p.{i}.exr", i, time.time(), "xxh128", f"{i:032x}"))
    (root / "s").mkdir()
    (root / "s" / "q.exr").write_bytes(b"q")
    entries.append(ManifestEntry("s/q.exr", 1, time.time(), "xxh128", "ab" * 16))
    original = Path(write_generation(root, entries).path).read_bytes()
    rng = random.Random(7)
    alphabet = [b"<", b">", b"&", b"/", b'"', b"'", b" ", b"\n", b"\r", b"\t", b"\x00", b"\x01", b"=", b"!", b"?",
                b"-", b"]", b"x", b"7", b".", b"\xc3", b"\xe9", b"&amp;", b"<hash>", b"</hash>", b"<!--", b"-->",
                b"vfxcopy-run", b"<![CDATA[", b"]]>", b"<hashes>\n", b"  </hashes>\n", b"xxh128", b"md5"]
    path = tmp_path / "0001_x.mhl"
    outcomes: dict[str, int] = {}
    for _ in range(4000):
        data = bytearray(original)
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(data) + 1)
            change = rng.random()
            if change < 0.4:
                data[at:at] = rng.choice(alphabet)
            elif change < 0.7:
                del data[at:at + rng.randint(1, 8)]
            else:
                data[at:at + 1] = rng.choice(alphabet)
        ours, theirs = our_reading(path, bytes(data)), expat_reading(str(path), bytes(data))
        assert ours == theirs, bytes(data)
        fast = mhl_parse._fast_hash_list(str(path), 7, bytes(data)) is not None
        outcomes[ours[0] + (" fast" if fast else "")] = outcomes.get(ours[0] + (" fast" if fast else ""), 0) + 1
    # Every kind was exercised: files read on the fast route, by expat alone, and refused
    # (seed 7: 729, 46 and 3,218, with 7 sizes that are no number).
    assert outcomes.get("ok fast", 0) > 400 and outcomes.get("ok", 0) > 20 and outcomes.get("bad", 0) > 1000
    assert "bad fast" not in outcomes


def test_each_generation_is_read_once_and_parsed_from_the_bytes_checked_against_the_chain(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dest = tmp_path / "dest"
    for seq in range(3):
        src = tmp_path / f"s{seq}"
        src.mkdir()
        for frame in range(4):
            (src / f"sh{seq}.{1001 + frame}.exr").write_bytes(bytes([seq, frame]))
        copy_job([src / f"sh{seq}.1001.exr"], dest)
    files = [str(f) for f in generations(dest)]
    reads: list[str] = []
    real = mhl_read.read_history_file

    def counting(path: str) -> bytes:
        reads.append(path)
        return real(path)

    monkeypatch.setattr(mhl_read, "read_history_file", counting)
    for cache in (mhl_read._hash_lists, mhl_read._digests, mhl_read._chains):
        cache.clear()
    assert len(mhl_read.load_history(dest).records) == 12
    assert sorted(reads) == files  # once each, for its C4 id and its entries (over a network: half the trips)

    # A C4 id remembered without the entries is not used: the entries are parsed from bytes read
    # now, so the C4 id checked is that of those bytes (here a wrong one stands in memory).
    mhl_read._hash_lists.clear()
    key = (files[1], "c4")
    ident, _right = mhl_read._digests[key]
    mhl_read._digests[key] = (ident, "c4" + "1" * 88)
    reads.clear()
    assert len(mhl_read.load_history(dest).records) == 12 and sorted(reads) == files
    # With its entries remembered too, the remembered C4 id stands (nothing is read again).
    mhl_read._digests[key] = (ident, "c4" + "1" * 88)
    reads.clear()
    with pytest.raises(Exception, match="Modified ASC MHL manifest"):
        mhl_read.load_history(dest)
    assert reads == []


def test_entries_come_from_the_bytes_this_load_checked_even_if_memory_holds_another_version(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The file changes (its identity with it) between this load's read and its look into memory,
    and memory holds entries of the changed version: the entries of the bytes whose C4 id was
    checked are used, never entries the chain did not vouch for."""
    dest = tmp_path / "dest"
    src = tmp_path / "s"
    src.mkdir()
    for frame in range(3):
        (src / f"sh.{1001 + frame}.exr").write_bytes(bytes([frame]) * 10)
    copy_job([src / "sh.1001.exr"], dest)
    (gen,) = [str(f) for f in generations(dest)]
    for cache in (mhl_read._hash_lists, mhl_read._digests, mhl_read._chains):
        cache.clear()
    later = (1, 2, 3, 4, 5)  # the identity the file has after "changing"
    real_identity, real_read = mhl_read._identity, mhl_read.read_history_file
    state = {"read": False}
    forged = mhl_parse.HashList(gen, 1)
    forged.media.append(mhl_parse.media_entry("sh.1001.exr", 10, "xxh128", "0" * 32, "original"))

    def reading(path: str) -> bytes:
        data = real_read(path)
        if path == gen:
            state["read"] = True
            mhl_read._hash_lists[gen] = (later, forged)  # "another version", remembered meanwhile
        return data

    def identity(path: str) -> tuple[int, ...] | None:
        if path == gen and state["read"] and not state.get("after"):
            state["after"] = True  # the check right after the read still sees the read's identity
            return real_identity(path)
        return later if path == gen and state.get("after") else real_identity(path)

    monkeypatch.setattr(mhl_read, "read_history_file", reading)
    monkeypatch.setattr(mhl_read, "_identity", identity)
    history = mhl_read.load_history(dest)
    assert len(history.records) == 3
    assert history.records["sh.1001.exr"].hash == hash_path(str(src / "sh.1001.exr"), "xxh128")  # not the forged
