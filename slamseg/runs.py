"""Run folders: ``runs/<command>-<timestamp>/`` (or ``--out``) holding a run's config, outputs and metrics.

A run works inside ``<final>.partial/`` and renames it to the final name only when it finishes, so a folder
under the final name is always complete. An interrupted run leaves its ``.partial`` folder behind, which
``resume=True`` continues from.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

from slamseg.config import dump_yaml
from slamseg.errors import RunFolderError
from slamseg.sequences.atomic import atomic_write_json, atomic_write_text

log = logging.getLogger(__name__)


MARKER = ".slamseg-run"  # present in every folder a RunFolder made; only such folders are ever deleted
_UNFINISHED: list[Path] = []  # working folders this process created for commands that cannot resume


def discard_unfinished_runs() -> None:
    """Remove the working (``.partial``) folders this process created for commands without ``--resume`` and did
    not finish: after an error there is nothing to continue, and they would block the next run's ``--out``."""
    while _UNFINISHED:
        path = _UNFINISHED.pop()
        if path.is_dir() and (path / MARKER).is_file():
            shutil.rmtree(path, ignore_errors=True)


def _remove_run_folder(path: Path) -> None:
    """Delete a run folder that slamseg made (it holds the marker file); refuse anything else."""
    if not path.is_dir() or not (path / MARKER).is_file():
        raise RunFolderError(f"{path} exists and is not a slamseg run folder (no {MARKER} file): refusing to "
                             "replace it; choose another --out")
    shutil.rmtree(path)


class RunFolder:
    """A run's output folder.

    Args:
        command: the command name (used in the default folder name).
        out: explicit final folder; default ``<root>/<command>-<YYYYmmdd-HHMMSS>``.
        root: parent of default run folders.
        resume: continue an interrupted run (its ``.partial`` folder) instead of refusing to reuse it.
        resumable: whether the command offers ``--resume`` (error messages suggest it only then); default: when
            ``resume`` is set.
        overwrite: replace an existing finished folder at ``out`` (and an interrupted one beside it), only when
            it is a run folder slamseg made (it holds the ``.slamseg-run`` marker written when a run starts).
    """

    def __init__(
        self,
        command: str,
        out: str | Path | None = None,
        root: str | Path = "runs",
        resume: bool = False,
        overwrite: bool = False,
        resumable: bool | None = None,
    ) -> None:
        if out is None:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            out = Path(root) / f"{command}-{stamp}"
        resumable = resume if resumable is None else resumable
        self.final = Path(out)
        self.path = self.final.with_name(self.final.name + ".partial")
        self.resumed = False
        if self.final.exists():
            if overwrite:
                _remove_run_folder(self.final)
            elif resume:
                raise RunFolderError(f"{self.final} is a finished run: there is nothing to resume")
            else:
                flags = "--overwrite or --resume" if resumable else "--overwrite"
                raise RunFolderError(f"{self.final} already exists; choose another --out, or pass {flags}")
        if self.path.exists() and overwrite and not resume:
            _remove_run_folder(self.path)
        if self.path.exists():
            if resume:
                self.resumed = True
                log.info("resuming run in %s", self.path)
            elif resumable:
                raise RunFolderError(
                    f"{self.path} holds an interrupted run; pass --resume to continue it or delete it"
                )
            else:
                raise RunFolderError(f"{self.path} holds an interrupted run of this command, which cannot be "
                                     "resumed; pass --overwrite to start again, or choose another --out")
        created = not self.path.exists()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise RunFolderError(f"{self.path}: cannot create the run folder ({err.strerror or err})") from None
        if created and not resumable:
            _UNFINISHED.append(self.path)  # a failed run of a command without --resume leaves nothing behind
        marker = self.path / MARKER
        if not marker.exists():  # written first: whatever is in here from now on, slamseg made
            atomic_write_json(marker, {"command": command, "created": time.strftime("%Y-%m-%dT%H:%M:%S")})

    def file(self, name: str) -> Path:
        """Path of ``name`` inside the (working) run folder; parent folders are created."""
        p = self.path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def write_text(self, name: str, text: str) -> Path:
        """Write a text file atomically inside the run folder."""
        p = self.file(name)
        atomic_write_text(p, text)
        return p

    def write_json(self, name: str, data: Any) -> Path:
        """Write strict JSON (numpy values converted, NaN / infinity as null) atomically."""
        p = self.file(name)
        atomic_write_json(p, data)
        return p

    def write_config(self, config: Any, command: str | None = None) -> Path:
        """Write the resolved config as ``config.yaml``, headed by ``command:`` when given (so that
        ``slamseg config show`` and ``--config`` know which command's options it holds)."""
        head = f"command: {command}\n" if command else ""
        return self.write_text("config.yaml", head + dump_yaml(config))

    def finish(self) -> Path:
        """Rename the working folder to its final name; returns the final path."""
        if self.path in _UNFINISHED:
            _UNFINISHED.remove(self.path)
        os.replace(self.path, self.final)
        self.path = self.final
        log.info("run folder: %s", self.final)
        return self.final
