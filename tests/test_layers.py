"""The package layout keeps its rules (shared/LAYOUT.md): every module has a layer, imports only
from its own layer or below, the layer-5 packages import each other only along the listed
arrows, no module or package imports itself round a cycle, `__init__.py` files stay empty and
no module passes 450 lines. Imports are read with `ast`, so lazy imports inside functions and
TYPE_CHECKING imports count as much as the ones at the top."""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Iterator, NamedTuple

PACKAGE_ROOT = Path(__file__).resolve().parent.parent / "gitdatax"

# Layer of each top-level module or subpackage of gitdatax (LAYOUT.md). A new module or package
# gets its line here: where it sits is a decision, not an accident.
LAYERS = {
    "gitdatax": 0,  # the package itself: __version__
    "errors": 0, "output": 0, "stub": 0, "log": 0, "files": 0,
    "git": 1, "config": 1, "toml_edit": 1, "attributes": 1, "crashlog": 1,
    "store": 2, "scan": 2,
    "remotes": 3,
    "sync": 4,
    "filter": 5, "hooks": 5, "server": 5, "migrate": 5, "maintenance": 5, "pipeline": 5, "metrics": 5,
    "share": 5,
    "api": 6, "cli": 6, "main": 6, "__main__": 6,
}
# Imports between packages of one layer that are allowed (all others are not).
SAME_LAYER_ARROWS = {
    ("hooks", "filter"), ("server", "hooks"), ("maintenance", "filter"), ("pipeline", "filter"),
    ("metrics", "pipeline"), ("share", "pipeline"), ("share", "metrics"),
    ("migrate", "share"),  # from-dvc keeps a `dvc import`'s origin in share's .datax-imports.toml
}
# Layers 0 and 1 are single files that may use each other (a stub raises errors); layer 6 is the
# entry points (cli, the main.py shim, __main__, api), which may call each other.
FLAT_LAYERS = (0, 1, 6)
# __init__.py files with content on purpose: the version, the remotes' registry.
INITS_WITH_CONTENT = {"gitdatax/__init__.py", "gitdatax/remotes/__init__.py"}
MAX_LINES = 450


class Import(NamedTuple):
    source: str  # module that imports, dotted (gitdatax.sync.transfer)
    target: str  # module imported, dotted
    line: int


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(root: Path) -> dict[str, Path]:
    return {module_name(root, p): p for p in sorted(root.rglob("*.py"))}


def imports(root: Path) -> Iterator[Import]:
    """Every import of a gitdatax module by a gitdatax module, resolved to module names."""
    known = modules(root)
    top = root.name
    for name, path in known.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == top or alias.name.startswith(top + "."):
                        yield Import(name, _existing(alias.name, known), node.lineno)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the importing module's package
                    package = name.split(".") if is_package else name.split(".")[:-1]
                    package = package[: len(package) - node.level + 1]
                    base = ".".join(package + ([base] if base else []))
                if base != top and not base.startswith(top + "."):
                    continue
                for alias in node.names:
                    candidate = f"{base}.{alias.name}"
                    target = candidate if candidate in known else _existing(base, known)
                    yield Import(name, target, node.lineno)


def _existing(dotted: str, known: dict[str, Path]) -> str:
    """The longest prefix of `dotted` that is a module (`from gitdatax.store.objectstore import X`)."""
    parts = dotted.split(".")
    while parts and ".".join(parts) not in known:
        parts.pop()
    return ".".join(parts) or dotted


def unit(module: str) -> str:
    """The top-level module or subpackage a module belongs to: gitdatax.sync.transfer -> sync."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member, or a member that imports itself."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:  # Tarjan's algorithm; the graphs here are small
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in edges.get(node, ()):
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def problems(root: Path) -> list[str]:
    """Every breach of the layout rules in the package at `root`, one line each."""
    out: list[str] = []
    found = list(imports(root))
    for name in modules(root):
        if unit(name) not in LAYERS:
            out.append(f"{name}: no layer (add its package to tests/test_layers.py LAYERS)")
    module_edges: dict[str, set[str]] = {}
    unit_edges: dict[str, set[str]] = {}
    for imp in found:
        if imp.target == imp.source:
            continue
        module_edges.setdefault(imp.source, set()).add(imp.target)
        src, dst = unit(imp.source), unit(imp.target)
        if src == dst or dst == root.name:
            continue
        unit_edges.setdefault(src, set()).add(dst)
        src_layer, dst_layer = LAYERS.get(src), LAYERS.get(dst)
        if src_layer is None or dst_layer is None:
            continue
        where = f"{imp.source} (line {imp.line}) imports {imp.target}"
        if dst_layer > src_layer:
            out.append(f"{where}: layer {src_layer} may not import layer {dst_layer}")
        elif dst_layer == src_layer and src_layer not in FLAT_LAYERS and (src, dst) not in SAME_LAYER_ARROWS:
            out.append(f"{where}: {src} -> {dst} is not an allowed arrow within layer {src_layer}")
    for component in cycles(module_edges):
        out.append(f"module cycle: {' <-> '.join(component)}")
    for component in cycles(unit_edges):
        out.append(f"package cycle: {' <-> '.join(component)}")
    for name, path in modules(root).items():
        rel = f"{root.name}/{path.relative_to(root).as_posix()}"
        lines = path.read_text().count("\n")
        if lines > MAX_LINES:
            out.append(f"{rel}: {lines} lines (split it: at most {MAX_LINES})")
        if path.name == "__init__.py" and rel not in INITS_WITH_CONTENT and path.read_text().strip():
            out.append(f"{rel}: not empty (the filter starts on every git command; keep __init__ files empty)")
    return out


def test_the_package_keeps_the_layout_rules() -> None:
    assert problems(PACKAGE_ROOT) == []


def test_every_layer_five_package_of_layout_md_exists() -> None:
    for package in ("store", "scan", "remotes", "sync", "filter", "hooks", "server", "migrate", "maintenance", "cli"):
        assert (PACKAGE_ROOT / package / "__init__.py").is_file(), package


def _plant(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "gitdatax"
    for rel, text in {"__init__.py": "", **files}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_a_planted_module_cycle_is_caught_even_when_lazy_or_type_checking(tmp_path: Path) -> None:
    root = _plant(tmp_path, {
        "store/__init__.py": "",
        "store/a.py": "def f():\n    from gitdatax.store import b\n",
        "store/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from gitdatax.store.a import f\n",
    })
    assert problems(root) == ["module cycle: gitdatax.store.a <-> gitdatax.store.b"]


def test_a_planted_package_cycle_and_a_layer_violation_are_caught(tmp_path: Path) -> None:
    root = _plant(tmp_path, {
        "store/__init__.py": "",
        "store/objectstore.py": "from gitdatax.scan import tracked\n",
        "scan/__init__.py": "",
        "scan/tracked.py": "from gitdatax.store.exchange import X\n",
        "store/exchange.py": "X = 1\nfrom gitdatax.sync.transfer import run\n",
        "sync/__init__.py": "",
        "sync/transfer.py": "def run():\n    pass\n",
        "pipeline/__init__.py": "print('side effect')\n",
        "pipeline/runner.py": "from gitdatax.cli import main\nimport gitdatax.server.http_server\n",
        "server/__init__.py": "",
        "server/http_server.py": "from ..pipeline import runner\n",
        "cli/__init__.py": "",
        "cli/main.py": "\n" * 451,
        "mystery.py": "",
    })
    found = problems(root)
    assert "gitdatax.mystery: no layer (add its package to tests/test_layers.py LAYERS)" in found
    assert any(p.startswith("gitdatax.store.exchange (line 2) imports gitdatax.sync.transfer: layer 2 may not "
                            "import layer 4") for p in found), found
    assert any("gitdatax.store.objectstore (line 1) imports gitdatax.scan.tracked: store -> scan is not an "
               "allowed arrow within layer 2" in p for p in found), found
    assert any("pipeline -> server is not an allowed arrow within layer 5" in p for p in found), found
    assert any("gitdatax.server.http_server (line 1) imports gitdatax.pipeline.runner" in p for p in found), found
    assert "package cycle: pipeline <-> server" in found
    assert "package cycle: scan <-> store" in found
    assert "gitdatax/cli/main.py: 451 lines (split it: at most 450)" in found
    assert any(p.startswith("gitdatax/pipeline/__init__.py: not empty") for p in found), found


def test_every_package_has_an_init_and_is_listed_in_setup_cfg() -> None:
    """A folder without __init__.py, or one setup.cfg does not list, is left out of a
    non-editable install (./install.sh): the commands in it would fail to import there."""
    import configparser

    cfg = configparser.ConfigParser()
    cfg.read(PACKAGE_ROOT.parent / "setup.cfg")
    listed = {line.strip() for line in cfg["options"]["packages"].splitlines() if line.strip()}
    for folder in sorted(p for p in PACKAGE_ROOT.rglob("*") if p.is_dir() and p.name != "__pycache__"):
        if not any(folder.glob("*.py")):
            continue
        dotted = module_name(PACKAGE_ROOT, folder / "__init__.py")
        assert (folder / "__init__.py").is_file(), f"{dotted}: no __init__.py"
        assert dotted in listed, f"{dotted}: not in setup.cfg [options] packages"
