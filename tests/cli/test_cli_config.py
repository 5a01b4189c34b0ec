"""`vfxcopy config` and the settings reaching `vfxcopy copy`/`convert` (flags override them)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from vfxcopy.cli import main
from vfxcopy.core.samples import make_byte_sequence


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def copy_spec(capsys: pytest.CaptureFixture[str], tmp_path: Path, *flags: str) -> dict[str, Any]:
    src = tmp_path / "src"
    if not src.exists():
        make_byte_sequence(src, count=2, size=100)
    dest = tmp_path / f"dest{len(list(tmp_path.iterdir()))}"
    code, out, err = run(capsys, "copy", str(src), str(dest), "--json", "-q", *flags)
    assert code == 0, err
    copy: dict[str, Any] = json.loads(out)["jobs"][0]["spec"]["copy"]
    return copy


def test_config_set_get_list_path(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "config", "path")
    assert code == 0 and out.strip() == os.path.join(os.environ["VFXCOPY_CONFIG_DIR"], "vfxcopy.toml")
    assert run(capsys, "config", "set", "copy.verify", "full")[0] == 0
    assert run(capsys, "config", "set", "notify.urls", '["json://127.0.0.1:1/a", "mailto://x@127.0.0.1"]')[0] == 0
    assert run(capsys, "config", "get", "copy.verify")[1] == "full\n"
    assert json.loads(run(capsys, "config", "get", "notify.urls", "--json")[1]) == [
        "json://127.0.0.1:1/a", "mailto://x@127.0.0.1"]
    code, out, _ = run(capsys, "config", "list")
    lines = {line.split()[0]: line for line in out.splitlines()}
    assert "(default)" not in lines["copy.verify"] and lines["copy.hash"].endswith("(default)")
    listed = json.loads(run(capsys, "config", "list", "--json")[1])
    assert listed["copy.verify"] == "full" and listed["jobs.at_once"] == 2


@pytest.mark.parametrize("argv,words", [
    (["config", "set", "copy.verify", "often"], "copy.verify takes one of none, transfer, full"),
    (["config", "set", "jobs.at_once", "0"], "jobs.at_once takes a number from 1 to 64"),
])
def test_config_mistakes_exit_2_with_one_line(capsys: pytest.CaptureFixture[str], argv: list[str], words: str) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and words in err and err.startswith("vfxcopy config: error:")


def test_copy_takes_its_defaults_from_the_settings_and_flags_override(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert copy_spec(capsys, tmp_path)["verify"] == "transfer"
    for key, value in (("copy.verify", "full"), ("copy.hash", "md5"), ("copy.fsync", "false"),
                       ("copy.bwlimit", "64M"), ("copy.on_conflict", "rename")):
        assert run(capsys, "config", "set", key, value)[0] == 0
    spec = copy_spec(capsys, tmp_path)
    assert (spec["verify"], spec["hash_algo"], spec["fsync"], spec["bwlimit"], spec["on_conflict"]) == (
        "full", "md5", False, 64 << 20, "rename")
    spec = copy_spec(capsys, tmp_path, "--verify", "none", "--hash", "xxh64", "--fsync", "--bwlimit", "0",
                     "--on-conflict", "fail")
    assert (spec["verify"], spec["hash_algo"], spec["fsync"], spec["bwlimit"], spec["on_conflict"]) == (
        "none", "xxh64", True, None, "fail")


def test_a_broken_settings_file_warns_and_the_copy_runs_on_defaults(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = Path(os.environ["VFXCOPY_CONFIG_DIR"]) / "vfxcopy.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('[copy]\nverify = "always"\n')
    src = make_byte_sequence(tmp_path / "src", count=1, size=10)[0].parent
    code, out, err = run(capsys, "copy", str(src), str(tmp_path / "d"), "--json", "-q")
    assert code == 0
    assert "warning:" in err and "copy.verify" in err
    assert json.loads(out)["jobs"][0]["spec"]["copy"]["verify"] == "transfer"


def test_farm_submit_takes_backend_and_chunk_from_the_settings(capsys: pytest.CaptureFixture[str],
                                                               tmp_path: Path) -> None:
    src = make_byte_sequence(tmp_path / "src", count=8, size=100)[0].parent
    assert run(capsys, "config", "set", "farm.backend", "deadline10")[0] == 0
    assert run(capsys, "config", "set", "farm.chunk", "4")[0] == 0
    code, out, err = run(capsys, "farm", "submit", str(src), str(tmp_path / "out"), "--json")
    assert code == 0, err
    (entry,) = json.loads(out)["jobs"]
    assert entry["backend"] == "deadline10"
    assert "ChunkSize=4\n" in Path(entry["files"][0]).read_text()
    code, out, err = run(capsys, "farm", "submit", str(src), str(tmp_path / "out2"), "--json", "--chunk", "2")
    assert code == 0, err
    assert "ChunkSize=2\n" in Path(json.loads(out)["jobs"][0]["files"][0]).read_text()  # the flag wins


def test_config_list_keeps_passwords_out(capsys: pytest.CaptureFixture[str]) -> None:
    url = "mailtos://ops:s3cret@mail.example.com?to=wrangler@example.com"
    assert run(capsys, "config", "set", "notify.urls", url)[0] == 0
    listed = run(capsys, "config", "list")[1]
    assert "s3cret" not in listed and "mailtos://ops:***@mail.example.com" in listed
    assert run(capsys, "config", "get", "notify.urls")[1].strip() == json.dumps([url])
    mode = (Path(os.environ["VFXCOPY_CONFIG_DIR"]) / "vfxcopy.toml").stat().st_mode & 0o777
    assert mode == 0o600  # the file carries credentials: the user's alone


def test_an_unknown_key_is_refused_with_the_list(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["config", "get", "copy.colour"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'copy.colour'" in err and "copy.verify" in err
