"""Reading a YAML data file safely: regular files only, duplicate keys refused, one-line errors.

Taxonomy files are read at start-up and on reload, from directories an operator mounts
(a ConfigMap's symlinks, an editor's lock files): what is refused here is what once
stopped or silently changed a start-up (docs/reliability.md, "hostile taxonomy files").
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import yaml

# What to change, for the slips authors make most, whose PyYAML wording does not say it.
_HINTS = (("found character '\\t'", "YAML indents with spaces, not tabs"),
          ("mapping values are not allowed here",
           "a value with a colon and a space in it (Note: ...) must be put in quotes"))


def yaml_problem(exc: yaml.YAMLError) -> str:
    """One line, with the file's line and column: PyYAML's own message takes five, pointing
    at "<unicode string>"."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        context = f" ({exc.context})" if exc.context else ""
        hint = next((f": {hint}" for found, hint in _HINTS if found in (exc.problem or "")), "")
        return f"line {mark.line + 1}, column {mark.column + 1}: {exc.problem}{context}{hint}"
    return str(exc).replace("\n", " ")


class NotAFile(Exception):
    """The path is a FIFO, a directory, a device or a socket (after symlinks)."""


_KINDS = {stat.S_IFIFO: "a named pipe (FIFO)", stat.S_IFDIR: "a directory", stat.S_IFSOCK: "a socket",
          stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device"}


def read_regular_file(path: Path) -> str:
    """The text of a regular file, symlinks followed (a ConfigMap mount links each file). Any
    other kind is refused before it is opened: opening a FIFO named x.yaml waits for a writer,
    and start-up waited with it, forever."""
    mode = path.stat().st_mode
    if not stat.S_ISREG(mode):
        kind = _KINDS.get(stat.S_IFMT(mode), "not a file")
        raise NotAFile(f"is {kind}, not a regular file: only regular files (or symlinks to them) are read")
    return path.read_text(encoding="utf-8")


class DuplicateKey(Exception):
    """A mapping of the file gives one key twice."""


def _refuse_duplicate_keys(root: yaml.Node) -> None:
    """Raise DuplicateKey for a key given twice in one mapping: PyYAML keeps the last one
    silently, so a second ``topics:`` dropped every topic above it."""
    stack, seen_nodes = [root], set()
    while stack:  # not recursive: nesting is only bounded by the composer's recursion
        node = stack.pop()
        if id(node) in seen_nodes:  # an alias is the same node again
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[tuple[str, Any], int] = {}
            for key_node, value_node in node.value:
                stack += [key_node, value_node]
                if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
                    continue  # "<<: *base" may be given beside keys it merges; other keys are no taxonomy's
                key, line = (key_node.tag, key_node.value), key_node.start_mark.line + 1
                if key in first:
                    raise DuplicateKey(f"line {line}: duplicate key {key_node.value!r} (first on line {first[key]}): "
                                        "YAML would keep only the last")
                first[key] = line
        elif isinstance(node, yaml.SequenceNode):
            stack += node.value


def parse_yaml(text: str) -> Any:
    """yaml.safe_load, refusing duplicate keys (checked on the parsed nodes, before they are built)."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        _refuse_duplicate_keys(root)
        return loader.construct_document(root)
    finally:
        loader.dispose()
