"""The import structure of skimb: no cycle, skimb.data in layers, no local imports.

Every ``import`` statement of every module is read with ``ast``, those inside
functions and classes included, with relative imports resolved.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "skimb"

#: skimb.data from index arithmetic up to datasets: a module imports only modules
#: of the layers before its own (one list: one layer).
DATA_LAYERS = [
    ["index"],
    ["row_runs"],
    ["split", "batches"],
    ["rows"],
    ["read_once", "block_cache", "lazy_rows"],
    ["sqlite.schema"],
    ["sqlite.reader"],
    ["sqlite.labels", "sqlite.cache", "sqlite.frames"],
    ["sqlite.dataset", "sqlite.writer"],
    ["sqlite"],
    ["parquet.layout"],
    ["parquet.reader"],
    ["parquet.dataset"],
    ["parquet"],
    [""],  # skimb.data itself
]


def _module_name(path):
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules():
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


MODULES = _modules()


def _imports(name, path):
    """``(imported module, line, at module level)`` of each import in ``path``:
    the skimb module a name is imported from when it is one, else its package."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    top_level = {id(node) for node in tree.body}
    # Imports under `if`/`try` at module level count as module level.
    for node in tree.body:
        if isinstance(node, (ast.If, ast.Try)):
            top_level.update(id(n) for n in ast.walk(node))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            # `from . import batches` imports the module skimb.data.batches.
            targets = [
                f"{module}.{alias.name}"
                if f"{module}.{alias.name}" in MODULES
                else module
                for alias in node.names
            ]
        else:
            continue
        for target in dict.fromkeys(targets):  # once per statement
            found.append((target, node.lineno, id(node) in top_level))
    return found


def _graph():
    """skimb module -> the skimb modules it imports (at any level)."""
    return {
        name: {t for t, _, _ in _imports(name, path) if t in MODULES and t != name}
        for name, path in MODULES.items()
    }


def test_every_module_is_parsed():
    assert "skimb.data.index" in MODULES and "skimb.data.sqlite.dataset" in MODULES
    graph = _graph()
    assert "skimb.data.batches" in graph["skimb.data.rows"]
    assert "skimb.data.sqlite.schema" in graph["skimb.data.sqlite.reader"]


def test_the_import_graph_of_skimb_has_no_cycle():
    graph = _graph()
    state = {}  # 1: on the current path, 2: done

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt) :] + [nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])


def test_the_data_layers_only_import_down():
    layer_of = {}
    for level, layer in enumerate(DATA_LAYERS):
        for short in layer:
            layer_of["skimb.data" + (f".{short}" if short else "")] = level
    in_data = {m for m in MODULES if m == "skimb.data" or m.startswith("skimb.data.")}
    assert in_data == set(layer_of), "every skimb.data module has its layer"
    wrong = [
        f"{name} (layer {layer_of[name]}) imports {target} (layer "
        f"{layer_of[target]}), line {line}"
        for name in sorted(in_data)
        for target, line, _ in _imports(name, MODULES[name])
        if target in layer_of and layer_of[target] >= layer_of[name]
    ]
    assert not wrong, "\n".join(wrong)


def test_no_function_level_import_of_a_skimb_module():
    # Optional third-party packages (tabm, matplotlib, accelerate, distributed,
    # ...) may be imported where they are used; skimb's own modules at the top.
    local = [
        f"{name} line {line}: {target}"
        for name, path in MODULES.items()
        for target, line, top in _imports(name, path)
        if not top and (target == "skimb" or target.startswith("skimb."))
    ]
    assert not local, "\n".join(local)
