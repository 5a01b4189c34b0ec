"""The settings file's fast reader (core/tomlsubset.py): what it reads, it reads as tomllib does;
what tomllib refuses, it never accepts; the files vfxcopy writes take the fast path."""

from __future__ import annotations

import random

import pytest

from vfxcopy.core import config
from vfxcopy.core.tomlsubset import loads

tomllib = config._toml()  # tomllib, or tomli on Python 3.10


def tomllib_or_none(text: str) -> dict[str, object] | None:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return None


def agrees(text: str) -> bool:
    """The fast reader declines, or gives exactly tomllib's answer (and tomllib has one)."""
    fast = loads(text)
    return fast is None or fast == tomllib_or_none(text)


SETTINGS_VALUES: dict[str, list[object]] = {
    "str": ["", "full", "50M", "a b", "ünïcödé ✓", "tab\there", "mailto://a@b.c?x=1", "=", "[x]", "#not a comment"],
    "int": [0, 1, 2, 64, 123456789],
    "bool": [True, False],
    "list": [[], ["mailto://a@b"], ["json://h:1/p", "FROM=TO", "a,b", "ü"], ["x"] * 5],
}


def written_settings(rng: random.Random) -> str:
    """A settings file as `vfxcopy config set` writes it (config._dump), with random values for random keys."""
    values: dict[str, object] = {}
    for k in rng.sample(list(config.KEYS.values()), rng.randint(1, len(config.KEYS))):
        kind = {str: "str", int: "int", bool: "bool", list: "list"}[k.kind]
        values[k.name] = rng.choice(SETTINGS_VALUES[kind])
    meta = rng.choice([{}, {"version": 1}, {"written_by": "vfxcopy 0.1.0"}])
    return config._dump(values, meta)  # type: ignore[arg-type]


def test_the_files_vfxcopy_writes_are_read_without_tomllib_and_as_tomllib_reads_them() -> None:
    rng = random.Random(12)
    for _ in range(500):
        text = written_settings(rng)
        assert loads(text) is not None, text
        assert loads(text) == tomllib.loads(text), text


def test_a_settings_file_with_an_escape_goes_to_tomllib_and_reads_the_same(tmp_path: object) -> None:
    text = config._dump({"notify.on_complete": 'say "done" \\ now', "copy.verify": "full"}, {})  # type: ignore[arg-type]
    assert '\\"' in text
    assert loads(text) is None  # declined: tomllib unescapes it
    assert tomllib.loads(text)["notify"]["on_complete"] == 'say "done" \\ now'


@pytest.mark.parametrize("text", [
    "", "\n\n", "# only a comment\n", "a = 1\n", "a = -5\nb = +7\nc = 0\n", 'a = "x"\n', "a = true\nb = false\n",
    "a = []\n", 'a = ["x", "y"]\n', 'a = ["x", "y",]\n', 'a = [ "x" , "y" ]\n', 'a = [\n    "x",\n    "y",\n]\n',
    'a = [\n  "x",\n  "y"\n]\n', "[t]\na = 1\n", "[t.u]\na = 1\n[t.v]\nb = 2\n", "x = 1\n[t]\nx = 2\n",
    "\ta\t=\t1\t\n", 'k-_9 = "tab\tin"\n', "[a-b.c_d]\n", "[t]\n[u]\n",
])
def test_simple_documents_are_read_as_tomllib_reads_them(text: str) -> None:
    assert loads(text) is not None, text
    assert loads(text) == tomllib.loads(text)


@pytest.mark.parametrize("text", [
    # valid TOML the fast reader leaves to tomllib
    'a = "x" # comment\n', "a = 'literal'\n", 'a = "esc\\n"\n', "a = 1_000\n", "a = 0x1f\n", "a = 1.5\n",
    "a = inf\n", "a = 1979-05-27\n", "a.b = 1\n", '"quoted" = 1\n', "a = { b = 1 }\n", "[[arr]]\nx = 1\n",
    "[t] # c\n", "[ t ]\n", "a = 1\r\n", "\ufeffa = 1\n", "a = -0\n", 'a = """x"""\n', "[t.u]\n[t]\n",
    'a = [\n  "x", # c\n]\n', 'a = [\n\n  "x",\n]\n', 'a = [["x"]]\n', 'a = ["x,y"]\n', "a = [1, 2]\n",
    "a = 12345678901234567890\n",
    # invalid TOML: never accepted
    "a = 1\na = 2\n", "[t]\n[t]\n", "a = 01\n", "a = tru\n", "a =\n", " = 1\n", "a\n", "[t.]\n", "[]\n",
    'a = "x" "y"\n', 'a = "x\n', 'a = ["x",,]\n', 'a = [\n  "x",\n', 'a = [\n  "x"\n  "y"\n]\n', "a = +\n",
    "[a]\nb = 1\n[a.b]\n", "a = 1\n[a]\n", "a = \"\x01\"\n", "# bell \x07\n", "k\u00e9 = 1\n", "a = \u00a01\n",
    "a = ++1\n", "a = 1 2\n", '"a = 1\n', "[t\n", "t]\n",
])
def test_anything_else_is_left_to_tomllib(text: str) -> None:
    assert loads(text) is None, text


FRAGMENTS = [
    "a", "b", "t", "u", "k-1", "=", " = ", "1", "-3", "+2", "0", "01", "true", "false", '"x"', '"a b"', '""', '"',
    "[", "]", "[t]", "[t.u]", "[[t]]", ", ", ",", "\n", "\n", "\n", "# c", " ", "\t", "'x'", "\\", ".", "1.5",
    '"é"', "[]", '["x"]', '["x", "y"]', '[\n  "x",\n]',
]


LINES = [
    "a = 1", "b = -2", "a = true", 'b = "x"', 'c = ""', "c = []", 'd = ["x", "y"]', 'd = [\n  "x",\n]', "[t]",
    "[u]", "[t.u]", "[t.v]", "# c", "", "a = 01", "a = 'x'", "e = [", '  "x",', "]", "[[t]]", "a.b = 1",
]


def test_random_documents_never_read_differently() -> None:
    """Thousands of random texts made of TOML's pieces: declined, or read as tomllib reads them."""
    rng = random.Random(7)
    accepted = 0
    for n in range(20_000):
        if n % 2:  # pieces anywhere
            text = "".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(1, 12)))
        else:  # whole lines, a piece of one now and then
            lines = [rng.choice(LINES) for _ in range(rng.randint(1, 8))]
            if rng.random() < 0.3:
                lines.insert(rng.randrange(len(lines) + 1), rng.choice(FRAGMENTS))
            text = "\n".join(lines) + rng.choice(["", "\n"])
        assert agrees(text), repr(text)
        accepted += loads(text) is not None
    assert accepted > 1000  # the fast path was exercised, not only declined


def test_a_command_with_a_settings_file_imports_no_tomllib(tmp_path: object) -> None:
    import json
    import os
    import site
    import subprocess
    import sys
    from pathlib import Path

    work = Path(str(tmp_path))
    cfg = work / "config"
    env = {**os.environ, "VFXCOPY_CONFIG_DIR": str(cfg), "VFXCOPY_DATA_DIR": str(work / "data")}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[2]), *site.getsitepackages()])
    for setting in (["jobs.at_once", "3"], ["farm.path_map", '["/mnt/a=/net/a"]'], ["copy.verify", "full"]):
        subprocess.run([sys.executable, "-m", "vfxcopy", "config", "set", *setting], env=env, check=True,
                       capture_output=True)
    assert (cfg / "vfxcopy.toml").exists()
    probe = ("import sys; from vfxcopy.cli import main; code = main(sys.argv[2:]); names = sorted(sys.modules); "
             "import json; open(sys.argv[1], 'w').write(json.dumps([code, names]))")
    report = work / "modules.json"
    done = subprocess.run([sys.executable, "-S", "-c", probe, str(report), "config", "get", "copy.verify"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "full"
    code, names = json.loads(report.read_text())
    assert code == 0 and "tomllib" not in names and "typing" not in names
