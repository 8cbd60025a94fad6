"""Who imports whom (../shared/STYLE.md, "The house"), read from the source with
`ast`: every import counts, at module level and inside functions alike (a circle
hidden in a function is still a circle). Nothing is imported to look."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Benchmarks and tests stand outside the house (they may import anything).
OUTSIDE = {"tests", "bench"}
CORE = "lemniscus"
# The one place in the core that names domain apps: URL routing.
CORE_MAY_IMPORT_APPS = {"lemniscus.urls"}


def project_packages(root: Path) -> list[str]:
    return sorted(
        path.parent.name
        for path in root.glob("*/__init__.py")
        if path.parent.name not in OUTSIDE and not path.parent.name.startswith(".")
    )


def _modules(root: Path, packages) -> dict[str, Path]:
    modules = {}
    for package in packages:
        for path in (root / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(root).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _imported(node, module: str, path: Path) -> set[str]:
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    if isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:  # relative: from the module's package upwards
            package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
            anchor = package[: len(package) - node.level + 1]
            base = ".".join([*anchor, base] if base else anchor)
        return {base, *(f"{base}.{alias.name}" for alias in node.names)}
    return set()


def import_graph(root: Path, packages) -> dict[str, set[str]]:
    """module → the project modules it imports (with the packages above them, whose
    `__init__` runs first)."""
    modules = _modules(root, packages)
    graph = {}
    for module, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            for name in _imported(node, module, path):
                parts = name.split(".")
                targets.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
        graph[module] = {t for t in targets if t in modules and t != module}
        # a package's own __init__ is not an import of itself
        graph[module] -= {a for a in graph[module] if module.startswith(f"{a}.")}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in sorted(graph[module]):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(found)


@pytest.fixture(scope="module")
def graph():
    return import_graph(ROOT, project_packages(ROOT))


def test_the_graph_sees_the_modules_and_imports_in_question(graph):
    """Guards the guard: the modules of both former circles are read, and the imports
    that must exist are found (also one inside a function)."""
    assert {"appointments", "doctolib_bridge", CORE, "web"} <= set(project_packages(ROOT))
    assert "appointments.notifications" in graph["appointments.tasks"]
    assert "appointments.services" in graph["appointments.notifications"]
    assert "doctolib_bridge.handover.job" in graph["doctolib_bridge.tasks"]
    assert "doctolib_bridge.handover.services" in graph["doctolib_bridge.tasks"]
    assert "doctolib_bridge.handover.services" in graph["doctolib_bridge.handover.job"]
    assert "outbox.services" in graph["doctolib_bridge.handover.services"]


def test_no_circle_of_imports_anywhere_in_the_apps(graph):
    """Also the two of issue 15: appointments notifications → services → tasks →
    notifications, and doctolib_bridge handover → tasks → handover. Services queue
    tasks by name through the outbox (`enqueue("appointments.send_confirmation")`)."""
    assert circles(graph) == []


def test_only_task_modules_import_task_modules(graph):
    importers = {
        module: sorted(target for target in targets if target.endswith(".tasks"))
        for module, targets in graph.items()
        if not module.endswith(".tasks")
    }
    assert {module: tasks for module, tasks in importers.items() if tasks} == {}


def test_the_core_imports_no_domain_app_but_in_url_routing():
    """Nor the benchmarks: URL routing includes bench/urls.py by name, with the switch."""
    apps = {*project_packages(ROOT), "bench"} - {CORE}
    graph = import_graph(ROOT, [*apps, CORE])
    imports = {
        module: sorted(t for t in targets if t.split(".")[0] in apps)
        for module, targets in graph.items()
        if module.split(".")[0] == CORE and module not in CORE_MAY_IMPORT_APPS
    }
    assert {module: names for module, names in imports.items() if names} == {}


# The platform seam (issue 15): the domain apps hear of the Doctolib bridge only
# through patients.platforms, which the bridge fills in its AppConfig.ready.
PLATFORM_FREE = ("patients", "appointments", "billing", CORE)


def test_no_domain_app_imports_the_bridge_but_url_routing():
    graph = import_graph(ROOT, [*PLATFORM_FREE, "doctolib_bridge"])
    imports = {
        module: sorted(t for t in targets if t.split(".")[0] == "doctolib_bridge")
        for module, targets in graph.items()
        if module.split(".")[0] in PLATFORM_FREE and module not in CORE_MAY_IMPORT_APPS
    }
    assert {module: names for module, names in imports.items() if names} == {}
    # and the seam is there: the bridge registers itself, the services call it
    assert "patients.platforms" in graph["patients.services"]
    assert "patients" in {t.split(".")[0] for t in graph["doctolib_bridge.apps"]}


def _tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_a_circle_through_an_import_inside_a_function_is_found(tmp_path):
    _tree(
        tmp_path,
        {
            "shop/__init__.py": "",
            "shop/services.py": "def order():\n    from shop import tasks\n",
            "shop/tasks.py": "from shop.notifications import mail\n",
            "shop/notifications.py": "from . import services\n",
            "shop/models.py": "",
            "core/__init__.py": "",
            "core/api.py": "from shop.models import Role\n",
        },
    )

    graph = import_graph(tmp_path, ["core", "shop"])

    assert circles(graph) == [["shop.notifications", "shop.services", "shop.tasks"]]
    assert graph["core.api"] == {"shop", "shop.models"}
    assert graph["shop.services"] == {"shop.tasks"}
