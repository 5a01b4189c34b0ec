"""Folder trees in the window: a dropped folder with sub-folders is one tree job (core/tree.py), shown item by item."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from dataclasses import dataclass

from vfxcopy.core.jobs import ConflictPolicy, CopyOptions, JobSpec, Operation
from vfxcopy.core.seqfind import group_files
from vfxcopy.core.tree import LINK, Tree, is_tree_folder, scan_tree, spec_items, tree_job
from vfxcopy.core.units import format_size, plural


def split_trees(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[Tree], list[str]]:
    """Dropped paths -> (folder trees scanned, the other paths). OSError from a folder that cannot be read."""
    trees: list[Tree] = []
    others: list[str] = []
    for raw in paths:
        path = os.path.abspath(os.fspath(raw))
        # The command line's rule (core.tree.is_tree_folder): a folder with sub-folders is one tree job.
        if os.path.isdir(path) and not os.path.islink(path) and is_tree_folder(path):
            trees.append(scan_tree(path))
        else:
            others.append(path)
    return trees, others


def tree_summary(tree: Tree) -> str:
    """'3 sequences · 7 files · 5 folders · 1.2 MiB' (what the New job dialog and the details say)."""
    sequences = [s for s in tree.sequences if not s.is_single]
    files = len(tree.items) - sum(len(s.frames) for s in sequences)
    return " · ".join([plural(len(sequences), "sequence"), plural(files, "file"),
                       plural(len(tree.folders), "folder"), format_size(tree.total_size)])


def tree_problem(tree: Tree) -> str:
    """Why this tree cannot be copied as it is ('' when it can), in the CLI's words."""
    if tree.unreadable:
        return f"{tree.root}: " + "; ".join(tree.unreadable[:3])
    if tree.links_out:
        rel, target = tree.links_out[0]
        more = f" and {len(tree.links_out) - 1} more" if len(tree.links_out) > 1 else ""
        return (f"A link in {os.path.basename(tree.root)}/ points out of the tree ({rel} -> {target}{more}): "
                "copy it from a terminal with --follow-symlinks or --exclude, or untick the folder.")
    if not tree.entries:
        return f"{tree.root} holds nothing to copy."
    return ""


def plan_trees(trees: list[Tree], dest: str, operation: Operation, copy: CopyOptions) -> list[JobSpec]:
    """One copy job per tree; ValueError with the sentence the dialog shows when one cannot go."""
    if not trees:
        return []
    if operation is not Operation.COPY:
        raise ValueError("A folder tree is copied as it is: choose Copy, or untick the folder.")
    if copy.on_conflict is ConflictPolicy.RENAME:
        raise ValueError("“Keep both” (a new version) is not available for a folder tree: choose another "
                         "answer for “If a file exists”.")
    specs = []
    for tree in trees:
        problem = tree_problem(tree)
        if problem:
            raise ValueError(problem)
        root = os.path.realpath(tree.root)
        target = os.path.realpath(dest)
        if target == root or target.startswith(root + os.sep):
            raise ValueError(f"The destination is inside the folder {tree.root}: choose a folder outside it.")
        specs.append(tree_job(tree.root, dest, tree, copy=dataclasses.replace(copy), origin="gui"))
    return specs


@dataclass(frozen=True)
class TreeItem:
    """One item of a tree job as the details pane lists it."""

    label: str  # 'shot_010/plates/bg01/bg01.####.exr  1003', or the file's path in the tree
    path: str  # the source path


def tree_items(spec: JobSpec) -> list[TreeItem]:
    """The job's items in order, each named by its sequence and frame when it is one."""
    root = spec.source.directory
    items = spec_items(spec)
    by_dir: dict[str, dict[str, int | None]] = {}
    for item in items:
        if item.get("kind") != LINK:
            folder, name = os.path.split(item["path"])
            by_dir.setdefault(folder, {})[name] = int(item.get("size") or 0)
    frame_of: dict[str, str] = {}
    for folder, entries in by_dir.items():
        for seq in group_files(folder, entries):
            if seq.is_single:
                continue
            shown = f"{folder}/{seq.nuke_name()}" if folder else seq.nuke_name()
            for frame in seq.frames:
                frame_of[os.path.join(folder, seq.name(frame))] = f"{shown}  {frame}"
    out = []
    for item in items:
        rel = item["path"]
        label = frame_of.get(rel) or (f"{rel} (link)" if item.get("kind") == LINK else rel)
        out.append(TreeItem(label, os.path.join(root, rel)))
    return out
