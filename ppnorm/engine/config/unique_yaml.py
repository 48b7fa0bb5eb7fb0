"""``yaml.safe_load`` that refuses a key given twice in one mapping (plain YAML lets the last one win silently)."""
import yaml

MERGE_TAG = "tag:yaml.org,2002:merge"  # '<<: *anchor' may repeat keys on purpose: the explicit ones win


class DuplicateKeyError(yaml.YAMLError):
    """A mapping holds the same key twice; ``first`` and ``second`` are 1-based line numbers."""

    def __init__(self, key, first, second):
        super().__init__(f"key {key!r} appears twice (lines {first} and {second})")
        self.key, self.first, self.second = key, first, second


class _UniqueKeyLoader(yaml.SafeLoader):
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


def safe_load_unique(stream):
    """``yaml.safe_load(stream)``, raising :class:`DuplicateKeyError` for a key repeated within one mapping."""
    loader = _UniqueKeyLoader(stream)  # a SafeLoader subclass: plain data only, never Python objects
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
