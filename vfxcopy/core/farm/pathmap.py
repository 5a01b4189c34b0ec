"""Path mapping: the submitter's paths in a farm job, as a worker that mounts the storage elsewhere sees them.

Rules are OpenJD's `pathmapping-1.0` document (what Deadline Cloud and the OpenJD
runtime hand a task as `{{Session.PathMappingRulesFile}}`) or `FROM=TO` pairs
(`--path-map` for SLURM, Deadline 10, OpenCue). The longest matching source prefix
wins, whole path components only (`/mnt/show` maps `/mnt/show/a`, never `/mnt/showx`).
"""

from __future__ import annotations

import dataclasses
import json
import ntpath
import os
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass

from vfxcopy.core.jobs import JobSpec


@dataclass(frozen=True)
class Rule:
    source: str
    destination: str
    windows: bool = False  # the source is a Windows path (case-insensitive, either slash)


class PathMap:
    def __init__(self, rules: Iterable[Rule] = ()) -> None:
        # Longest source first, as the OpenJD runtime applies them.
        self.rules = sorted(rules, key=lambda r: -len(r.source.rstrip("/\\")))

    def __bool__(self) -> bool:
        return bool(self.rules)

    @classmethod
    def from_pairs(cls, pairs: Iterable[str]) -> PathMap:
        rules = []
        for pair in pairs:
            source, sep, dest = pair.partition("=")
            if not sep or not source or not dest:
                raise ValueError(f"{pair!r}: give FROM=TO")
            rules.append(Rule(source, dest, windows=_looks_windows(source)))
        return cls(rules)

    @classmethod
    def from_openjd_file(cls, path: str | os.PathLike[str]) -> PathMap:
        """Read a `pathmapping-1.0` rules file; an empty file or `{}` means no rules."""
        with open(path, encoding="utf-8") as fh:
            text = fh.read().strip()
        data = json.loads(text) if text else {}
        if data and data.get("version") != "pathmapping-1.0":
            raise ValueError(f"{path}: not a pathmapping-1.0 document (version {data.get('version')!r})")
        return cls(Rule(r["source_path"], r["destination_path"], r.get("source_path_format") == "WINDOWS")
                   for r in data.get("path_mapping_rules", []))

    def apply(self, path: str) -> str:
        for rule in self.rules:
            mapped = _replace(path, rule)
            if mapped is not None:
                return mapped
        return path

    def apply_spec(self, spec: JobSpec) -> JobSpec:
        """The spec with its source folder and destination as this computer sees them."""
        if not self.rules:
            return spec
        source = spec.source.replace(directory=self.apply(spec.source.directory))
        return dataclasses.replace(spec, source=source, dest_dir=self.apply(spec.dest_dir))


def _looks_windows(path: str) -> bool:
    return len(path) >= 2 and (path[1] == ":" or path.startswith("\\\\"))


def _replace(path: str, rule: Rule) -> str | None:
    if rule.windows:
        norm = ntpath.normpath(path)
        src = ntpath.normpath(rule.source).rstrip("\\")
        if not (norm.lower() == src.lower() or norm.lower().startswith(src.lower() + "\\")):
            return None
        rest = norm[len(src):].lstrip("\\").replace("\\", "/")
    else:
        src = posixpath.normpath(rule.source).rstrip("/") or "/"
        norm = posixpath.normpath(path)
        if src == "/":
            rest = norm.lstrip("/")
        elif norm == src or norm.startswith(src + "/"):
            rest = norm[len(src):].lstrip("/")
        else:
            return None
    return os.path.join(rule.destination, rest) if rest else rule.destination
