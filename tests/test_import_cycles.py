"""ppnorm's imports form no cycle: not between modules (any import, also inside a function, which would only hide
one), and not between subpackages at module level; and every import, also inside a function, goes down the layers
(:data:`LAYERS`). Read from the source with ast; nothing is imported."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Subpackage -> layer: a module may import only from a lower layer (or its own subpackage). The modules at the
# package's root (registry, errors, safe_pickle, weights, cli, ...) are the base, layer 0, and may import each other;
# its entry points (ENTRY) may import anything. nn and data share a layer and so may not import each other.
# The PaddleClas adapter (ppnorm/paddleclas) sits on the engine: the core reaches it only by lazy registry entries.
LAYERS = {"nn": 1, "data": 1, "models": 2, "engine": 3, "paddleclas": 4, "deploy": 5, "benchmark": 6, "experiments": 7}
ENTRY = {"__main__", "hubconf"}


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


def _layer(unit):
    """The layer of ``pkg.<unit>`` (a subpackage or a root module): LAYERS, the base 0, or above all for ENTRY."""
    name = unit.split(".")[1]
    return LAYERS.get(name, len(LAYERS) + 1 if name in ENTRY else 0)


def layer_violations(package_dir):
    """``[(module, imported module)]`` for every import, also inside a function, that is not down the layers.

    The package's own ``__init__`` is left out as a target (``from . import __version__``)."""
    modules = _modules(package_dir)
    found = []
    for module, path in modules.items():
        for target in sorted(_imported(module, path, modules, module_level=False)):
            a, b = (".".join(name.split(".")[:2]) for name in (module, target))
            if package_dir.name in (a, b) or a == b or _layer(a) == _layer(b) == 0:
                continue
            if _layer(b) >= _layer(a):
                found.append((module, target))
    return found


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


def test_every_import_goes_down_the_layers_also_inside_functions():
    assert layer_violations(ROOT / "ppnorm") == []
    assert set(LAYERS) == {p.name for p in (ROOT / "ppnorm").iterdir() if (p / "__init__.py").is_file()}


def test_the_layer_check_finds_an_upward_import_hidden_in_a_function(tmp_path):
    package = tmp_path / "ppnorm"
    for sub in ("nn", "models", "engine", "data"):
        (package / sub).mkdir(parents=True)
        (package / sub / "__init__.py").write_text("")
    (package / "__init__.py").write_text("from . import models\n")
    (package / "errors.py").write_text("from . import registry\n")
    (package / "registry.py").write_text("")
    (package / "hubconf.py").write_text("import ppnorm.engine\n")
    (package / "engine" / "run.py").write_text("from ..models import net\nfrom ..data import sets\n")
    (package / "data" / "sets.py").write_text("from ..errors import x\n")
    (package / "models" / "net.py").write_text("from ..nn import norm\n\ndef f():\n    from ..engine import run\n")
    (package / "nn" / "norm.py").write_text("import ppnorm.data.sets\n")
    assert layer_violations(package) == [("ppnorm.models.net", "ppnorm.engine.run"),
                                         ("ppnorm.nn.norm", "ppnorm.data.sets")]
