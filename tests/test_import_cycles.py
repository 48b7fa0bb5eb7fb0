"""ppnorm's imports form no cycle: not between modules (any import, also inside a function, which would only hide
one), and not between subpackages at module level (nn <- models <- engine <- deploy <- benchmark <- experiments,
data below the engine). Read from the source with ast; nothing is imported."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _modules(package_dir):
    """``{dotted module name: path}`` of every .py file of the package (``pkg.sub`` for ``pkg/sub/__init__.py``)."""
    modules = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _imported(module, path, modules, module_level):
    """The package's modules that ``module`` imports (only its top-level statements when ``module_level``)."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in tree.body if module_level else ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[:len(package.split(".")) + 1 - node.level] if node.level else []
            source = ".".join(base + ([node.module] if node.module else []))
            names = [f"{source}.{a.name}" if f"{source}.{a.name}" in modules else source for a in node.names]
        else:
            continue
        found |= {name for name in names if name in modules and name != module}
    return found


def find_cycle(graph):
    """One cycle of ``graph`` (``{node: set of nodes}``) as a list ``[a, b, ..., a]``, or None."""
    state = {}

    def visit(node, trail):
        state[node] = "open"
        for child in sorted(graph.get(node, ())):
            if state.get(child) == "open":
                return trail[trail.index(child):] + [child]
            if child not in state:
                cycle = visit(child, trail + [child])
                if cycle:
                    return cycle
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state:
            cycle = visit(start, [start])
            if cycle:
                return cycle
    return None


def import_graph(package_dir, module_level=False, depth=None):
    """``{module: modules it imports}``; with ``depth`` the names are cut to that many parts (``ppnorm.engine``),
    imports within one part and the package's own ``__init__`` left out."""
    modules = _modules(package_dir)
    graph = {}
    for module, path in modules.items():
        for target in _imported(module, path, modules, module_level):
            a, b = (name if depth is None else ".".join(name.split(".")[:depth]) for name in (module, target))
            if a != b and package_dir.name not in (a, b):
                graph.setdefault(a, set()).add(b)
    return graph


def test_no_module_of_ppnorm_imports_one_that_imports_it_back():
    assert find_cycle(import_graph(ROOT / "ppnorm")) is None


def test_the_subpackages_import_each_other_in_one_direction_at_module_level():
    graph = import_graph(ROOT / "ppnorm", module_level=True, depth=2)
    assert find_cycle(graph) is None
    assert "ppnorm.engine" in graph["ppnorm.deploy"] and "ppnorm.nn" in graph["ppnorm.models"]  # the graph is real


def test_the_check_finds_a_cycle_hidden_in_a_function(tmp_path):
    package = tmp_path / "pkg"
    (package / "a").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "a" / "__init__.py").write_text("from . import x\n")
    (package / "a" / "x.py").write_text("from ..b import y\n")
    (package / "b.py").write_text("def f():\n    from .a.x import g\n")
    (package / "y.py").write_text("import pkg.b\n")
    assert find_cycle(import_graph(package)) == ["pkg.a.x", "pkg.b", "pkg.a.x"]
    assert find_cycle(import_graph(package, module_level=True)) is None
    assert find_cycle(import_graph(package, depth=2)) == ["pkg.a", "pkg.b", "pkg.a"]
    assert import_graph(package)["pkg.y"] == {"pkg.b"}
