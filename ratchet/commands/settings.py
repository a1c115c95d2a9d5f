"""``ratchet init --save-settings``: what init found, written into ``pyproject.toml``.

The interpreter ratchet found and the test command it ran go into
``[tool.ratchet]`` (keys already there are left alone), edited in place with
tomlkit so that every other line, comment and table of the file stays as it
was.  An interpreter outside the repository is not written: a path of one
machine does not belong in a committed file.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from ratchet.config import Config


def save_settings(root: Path, config: Config) -> list[str]:
    """Write what is missing; what to say."""
    import tomlkit

    from ratchet.baseline import write_atomic
    from ratchet.environment import find_python

    path = root / "pyproject.toml"
    text = path.read_text("utf-8") if path.exists() else ""
    doc = tomlkit.parse(text)
    tool = doc.setdefault("tool", tomlkit.table(is_super_table=True))
    section = tool.setdefault("ratchet", tomlkit.table())
    said = []
    python, how = find_python(root, config.python)
    if "python" not in section:
        inside = os.path.relpath(python, root)
        if inside.startswith(".." + os.sep) or os.path.isabs(inside):
            said.append(
                f"python not saved: {python} ({how}) is outside the repository; "
                "each clone finds its own"
            )
        else:
            section["python"] = inside
            said.append(f"saved python = {inside!r} ({how})")
    if "test-command" not in section:
        command = shlex.join(config.test_command)
        section["test-command"] = command
        said.append(f"saved test-command = {command!r}")
    new = tomlkit.dumps(doc)
    if new != text:
        write_atomic(path, new)
    return said
