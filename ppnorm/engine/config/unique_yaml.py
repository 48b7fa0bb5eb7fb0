"""``yaml.safe_load`` that refuses a key given twice in one mapping (plain YAML lets the last one win silently),
and a document that anchors and aliases would blow up (a "billion laughs" file), before anything is built."""
from __future__ import annotations

from typing import IO, Any, Union

import yaml

MERGE_TAG = "tag:yaml.org,2002:merge"  # '<<: *anchor' may repeat keys on purpose: the explicit ones win


class DuplicateKeyError(yaml.YAMLError):
    """A mapping holds the same key twice; ``first`` and ``second`` are 1-based line numbers."""

    def __init__(self, key: Any, first: int, second: int) -> None:
        super().__init__(f"key {key!r} appears twice (lines {first} and {second})")
        self.key, self.first, self.second = key, first, second


# A config holds a few hundred values; aliases may repeat a section, never grow a file into millions of values.
MAX_VALUES = 100_000
MAX_DEPTH = 100


class OversizedError(yaml.YAMLError):
    """The document would expand (aliases counted each time they are used) beyond ``MAX_VALUES`` or ``MAX_DEPTH``."""


def _check_size(root):
    """Count the values ``root`` expands to, every alias use counted, without expanding anything."""
    sizes, stack = {}, [(root, 0, False)]
    while stack:
        node, depth, children_done = stack.pop()
        if id(node) in sizes and not children_done:
            continue
        if depth > MAX_DEPTH:
            raise OversizedError(f"nested deeper than {MAX_DEPTH} levels")
        children = ([c for pair in node.value for c in pair] if isinstance(node, yaml.MappingNode)
                    else list(node.value) if isinstance(node, yaml.SequenceNode) else [])
        if children_done:
            sizes[id(node)] = 1 + sum(sizes.get(id(child), 1) for child in children)
            if sizes[id(node)] > MAX_VALUES:
                raise OversizedError(f"expands to more than {MAX_VALUES:,} values (anchors and aliases repeat "
                                     f"the same values many times)")
            continue
        sizes[id(node)] = 1  # provisional: a recursive alias counts once instead of looping
        stack.append((node, depth, True))
        stack.extend((child, depth + 1, False) for child in children if id(child) not in sizes)


class _UniqueKeyLoader(yaml.SafeLoader):
    def get_single_data(self):
        node = self.get_single_node()
        if node is None:
            return None
        _check_size(node)
        return self.construct_document(node)

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen = {}
            for key_node, _ in node.value:
                if key_node.tag == MERGE_TAG:
                    continue
                key, line = self.construct_object(key_node, deep=True), key_node.start_mark.line + 1
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key: SafeLoader refuses it with its own message
                    continue
                if first is not None:
                    raise DuplicateKeyError(key, first, line)
                seen[key] = line
        return super().construct_mapping(node, deep)


def yaml_problem(error: yaml.YAMLError) -> str:
    """The first line of what ``yaml`` says, with a plainer word for refused ``!!python`` tags."""
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    if isinstance(error, yaml.constructor.ConstructorError) and "tag" in str(problem):
        return f"{problem.strip()} (configs hold plain data only; YAML tags that build objects are refused)"
    return problem


def safe_load_unique(stream: Union[str, bytes, IO]) -> Any:
    """``yaml.safe_load(stream)``, raising :class:`DuplicateKeyError` for a key repeated within one mapping."""
    loader = _UniqueKeyLoader(stream)  # a SafeLoader subclass: plain data only, never Python objects
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
