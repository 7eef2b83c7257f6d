"""The package's import graph has no cycle, and the weights package loads without TensorFlow.

The graph is read from the source with `ast`, not from a running interpreter: an edge A -> B is an `import` or
`from ... import` statement in A (at module level or inside a function) that names the module B of the package.
Relative imports are resolved; `from . import x` is an edge to the submodule x when x is a module, else to the package.
Importing a package's submodule is an edge to that submodule only, not to the packages around it (Python puts a
package in sys.modules before its __init__ runs, so a submodule that imports a sibling does not re-enter it). Names a
package's lazy __getattr__ loads by name (importlib) are not edges: nothing is imported until a name is used.

    python -m tests.test_imports   # prints the graph's layers, the modules that import nothing of the package first
"""

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "neural_style"


def module_names(root):
    """
    The modules of a package's source tree, by dotted name.

    Arguments:
    root -- the package's folder (its name is the top-level name)

    Returns:
    modules -- dict from dotted name ('pkg', 'pkg.sub', 'pkg.sub.mod') to (path, is_package)
    """
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = (root.name, *path.relative_to(root).with_suffix("").parts)
        if "__pycache__" in parts:
            continue
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        modules[".".join(parts)] = (path, is_package)
    return modules


def _imported(module, is_package, node, modules):
    """The package's modules one import statement names (empty for imports of other packages)."""
    if isinstance(node, ast.Import):
        # `import a.b.c` binds a and runs a, a.b and a.b.c; it names a.b.c (the packages around it are not edges).
        return [alias.name for alias in node.names if alias.name in modules]
    if node.level:
        # Relative: the importing module's package, then one package up per dot beyond the first.
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module
    if source not in modules:
        return []
    # `from P import x`: the submodule P.x when there is one, else the name x of the module P.
    return [f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules else source for alias in node.names]


def import_graph(root):
    """
    The import graph of a package, read from its source.

    Arguments:
    root -- the package's folder

    Returns:
    graph -- dict from each module's dotted name to the set of the package's modules it imports (itself excluded)
    """
    modules = module_names(root)
    graph = {}
    for module, (path, is_package) in modules.items():
        tree = ast.parse(path.read_text(encoding="utf8"), filename=str(path))
        targets = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                targets.update(_imported(module, is_package, node, modules))
        targets.discard(module)
        graph[module] = targets
    return graph


def find_cycle(graph):
    """
    One cycle of a directed graph, if there is one.

    Arguments:
    graph -- dict from node to the set of nodes it points to

    Returns:
    cycle -- list [a, b, ..., a] of the nodes around a cycle, or None when the graph has none
    """
    state = {}  # node -> "open" while on the current path, "done" once all it reaches has been searched
    for start in sorted(graph):
        if start in state:
            continue
        path, stack = [start], [iter(sorted(graph[start]))]
        state[start] = "open"
        while stack:
            following = next(stack[-1], None)
            if following is None:
                state[path.pop()] = "done"
                stack.pop()
            elif state.get(following) == "open":
                return path[path.index(following) :] + [following]
            elif following not in state:
                state[following] = "open"
                path.append(following)
                stack.append(iter(sorted(graph.get(following, ()))))
    return None


def layers(graph):
    """
    The modules of an acyclic import graph by depth: layer 0 imports nothing of the package, layer n imports at least
    one module of layer n - 1 and none above.

    Arguments:
    graph -- an acyclic graph, as import_graph returns it

    Returns:
    layers -- list of sorted lists of module names, layer 0 first
    """
    depth = {}

    def depth_of(module):
        if module not in depth:
            depth[module] = 1 + max((depth_of(target) for target in graph[module]), default=-1)
        return depth[module]

    for module in graph:
        depth_of(module)
    return [sorted(m for m in graph if depth[m] == level) for level in range(max(depth.values(), default=-1) + 1)]


def write_package(root, files):
    """Writes {relative path: source} under root (a synthetic package for the checker's own tests)."""
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    return root


def test_neural_style_has_no_import_cycle():
    graph = import_graph(PACKAGE)
    # The graph really was read: the weights package's parts and their one-way imports are in it.
    assert "neural_style.weights.published" in graph["neural_style.weights.download"]
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_relative_imports_are_resolved(tmp_path):
    root = write_package(
        tmp_path / "pkg",
        {
            "__init__.py": "from . import a\nimport os\n",
            "a.py": "from .sub import c\nfrom .sub.c import NAME\n",
            "b.py": "def late():\n    from . import a, CONSTANT\n    import pkg.sub\n",
            "sub/__init__.py": "from .. import b\nfrom ..a import thing\n",
            "sub/c.py": "from ... import outside\nfrom .. import b\nfrom . import c\nNAME = 1\n",
        },
    )
    graph = import_graph(root)
    assert graph == {
        "pkg": {"pkg.a"},
        "pkg.a": {"pkg.sub.c"},
        "pkg.b": {"pkg.a", "pkg", "pkg.sub"},  # CONSTANT is a name of pkg's __init__; the function-level imports count
        "pkg.sub": {"pkg.b", "pkg.a"},
        "pkg.sub.c": {"pkg.b"},  # `from ... import` leaves the package; `from . import c` is itself
    }


def test_a_cycle_is_found_and_named(tmp_path):
    root = write_package(
        tmp_path / "pkg",
        {
            "__init__.py": "",
            "a.py": "from .b import B\n",
            "b.py": "def later():\n    from .sub import c\n",
            "sub/__init__.py": "",
            "sub/c.py": "from .. import a\n",
            "d.py": "from . import a\n",
        },
    )
    graph = import_graph(root)
    cycle = find_cycle(graph)
    assert cycle is not None and cycle[0] == cycle[-1]
    # The cycle a -> b -> sub.c -> a, from whichever of its modules the search entered.
    assert set(cycle) == {"pkg.a", "pkg.b", "pkg.sub.c"} and len(cycle) == 4
    assert all(following in graph[module] for module, following in zip(cycle, cycle[1:]))
    # Without the function-level import in b, nothing closes the loop.
    (root / "b.py").write_text("B = 1\n")
    assert find_cycle(import_graph(root)) is None


def test_layers_put_each_module_above_what_it_imports():
    graph = {"a": {"b", "c"}, "b": {"c"}, "c": set(), "d": set()}
    assert layers(graph) == [["c", "d"], ["b"], ["a"]]


def test_the_weights_package_loads_without_tensorflow():
    script = (
        "import sys, neural_style.weights as W; "
        "print('tensorflow' in sys.modules, W.load_weights.__module__, W.download_weights.__module__)"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    # The names were loaded (the package's imports ran), and TensorFlow was not.
    expected = ["False", "neural_style.weights.read", "neural_style.weights.download"]
    assert result.stdout.split() == expected, result.stderr


if __name__ == "__main__":
    for level, modules in enumerate(layers(import_graph(PACKAGE))):
        print(f"{level}: {' '.join(modules)}")
