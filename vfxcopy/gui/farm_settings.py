"""The farm settings (backend, queue/partition, chunk size, path mapping) in the shared settings file (core.config)."""

from __future__ import annotations

from dataclasses import dataclass, field

from vfxcopy.core import config
from vfxcopy.core.farm.pathmap import PathMap

BACKEND_KEYS = config.key("farm.backend").choices


@dataclass
class FarmSettings:
    """What `vfxcopy farm submit` and the window's Run on start from (vfxcopy.toml's [farm] table)."""

    backend: str = "openjd"
    partition: str = ""
    chunk: int = 0  # frames per task; 0: sized by the task time
    path_map: list[str] = field(default_factory=list)  # FROM=TO, as `--path-map`

    @classmethod
    def load(cls) -> FarmSettings:
        # migrate=False: the window's ini is migrated by AppSettings, once, not from here.
        values = config.load(migrate=False)
        return cls(values.text("farm.backend"), values.text("farm.partition"), values.number("farm.chunk"),
                   values.strings("farm.path_map"))

    @staticmethod
    def parse_path_map(text: str) -> list[str]:
        """One FROM=TO rule a line; ValueError naming the line that is not one."""
        rules = [line.strip() for line in text.splitlines() if line.strip()]
        PathMap.from_pairs(rules)
        return rules

    def save(self) -> None:
        config.update({"farm.backend": self.backend, "farm.partition": self.partition, "farm.chunk": self.chunk,
                       "farm.path_map": list(self.path_map)})
