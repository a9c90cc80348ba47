"""The import graph has no circle: each package can be read (and tested) from the
bottom up. import-linter (``make contracts``) checks the layers; this checks what it
does not, that no module reaches itself again through the modules it imports (also
through imports made inside functions, which hide a circle until run time)."""

from __future__ import annotations

import grimp

PACKAGES = ("elyune_core", "elyune_adapters", "elyune_http", "elyune_cli", "elyune_worker")


def circles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in graph.modules:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        found.append(sorted(group))
    return found


def test_no_module_imports_itself_through_others() -> None:
    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=True)
    assert circles(graph) == []


def test_the_check_finds_a_circle() -> None:
    graph = grimp.ImportGraph()
    for name in ("a", "a.container", "a.queue", "a.tasks", "a.core"):
        graph.add_module(name)
    graph.add_import(importer="a.container", imported="a.queue")
    graph.add_import(importer="a.queue", imported="a.tasks")
    graph.add_import(importer="a.tasks", imported="a.container")
    graph.add_import(importer="a.tasks", imported="a.core")
    assert circles(graph) == [["a.container", "a.queue", "a.tasks"]]


def test_the_adapters_do_not_import_the_worker_or_the_container() -> None:
    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=True)
    queue = graph.find_modules_directly_imported_by("elyune_adapters.queue.taskiq")
    assert not {m for m in queue if m.startswith(("elyune_worker", "elyune_adapters.container"))}
