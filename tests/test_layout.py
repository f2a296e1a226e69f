"""The code's shape: no import circle in py/robotrain or web/js (imports flow one way)."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "py" / "robotrain"
WEB_JS = ROOT / "web" / "js"
JS_IMPORT = re.compile(r"""(?:^|\n)\s*(?:import|export)\b[^'"]*?\bfrom\s+['"](\.[^'"]+)['"]|\bimport\(\s*['"](\.[^'"]+)['"]""")


def circles(graph: dict) -> list:
    """Every import circle of ``graph`` (node -> nodes it imports), each once, as a list of nodes."""
    found, done = set(), set()

    def visit(node, path):
        if node in path:
            cycle = path[path.index(node):]
            turn = cycle.index(min(cycle))
            found.add(tuple(cycle[turn:] + cycle[:turn]))
            return
        if node in done:
            return
        for dep in graph.get(node, ()):
            visit(dep, path + [node])
        done.add(node)

    for node in sorted(graph):
        visit(node, [])
    return sorted(found)


def python_graph() -> dict:
    graph = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        package = module if parts[-1] == "__init__" else module.rpartition(".")[0]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1])
                names = [f"{base}.{node.module}"] if node.module else [f"{base}.{a.name}" for a in node.names]
                deps.update(names)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("robotrain"):
                deps.add(node.module)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name.startswith("robotrain"))
        graph[module] = deps
    return {m: {d for d in deps if d in graph} for m, deps in graph.items()}


def js_graph() -> dict:
    graph = {}
    for path in WEB_JS.rglob("*.js"):
        deps = set()
        for match in JS_IMPORT.finditer(path.read_text()):
            target = (path.parent / (match.group(1) or match.group(2))).resolve()
            if target.is_relative_to(WEB_JS):
                deps.add(target.relative_to(WEB_JS).as_posix())
        graph[path.relative_to(WEB_JS).as_posix()] = deps
    return graph


def test_no_import_circle_in_python():
    graph = python_graph()
    assert "robotrain.schedule" in graph and "robotrain.run" in graph["robotrain.schedule"]  # the graph is real
    assert circles(graph) == []


def test_no_import_circle_in_javascript():
    graph = js_graph()
    assert "app/session.js" in graph["main.js"] and "pool.js" in graph["app/session.js"]  # the graph is real
    assert circles(graph) == []


def test_circles_finds_a_circle():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [("a", "b", "c")]


def test_no_javascript_file_over_400_lines():
    """A file owns one thing; past ~400 lines it is split (the house style)."""
    sizes = {path.relative_to(WEB_JS).as_posix(): len(path.read_text().splitlines()) for path in WEB_JS.rglob("*.js")}
    assert len(sizes) > 20  # the walk is real
    assert {name: n for name, n in sizes.items() if n > 400} == {}


def test_page_parts_do_not_import_each_other():
    """main.js wires the page's parts (web/js/app/), giving each the parts and callbacks it uses; none imports another."""
    graph = js_graph()
    parts = {name for name in graph if name.startswith("app/")}
    assert {"app/session.js", "app/settings.js", "app/api.js"} <= parts and parts <= graph["main.js"]  # the walk is real
    assert {name: sorted(graph[name] & parts) for name in parts if graph[name] & parts} == {}
