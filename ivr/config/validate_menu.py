"""Checks of menu.yaml: settings, prompts, emergency lines, nodes, keys and the graph (every
node reachable, the fallback reaches a person, no loop without a way out)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ivr.config.models import (
    DepartmentsFile,
    HoursNode,
    LinesFile,
    LookupNode,
    MenuFile,
    MenuNode,
    MessageNode,
    PlayNode,
    QueueNode,
    TransferNode,
)
from ivr.config.validate_base import (
    AMBIGUOUS_KEY,
    DEPARTMENTS,
    FALLBACK_NO_PERSON,
    LINES,
    LOOP_NO_PERSON,
    MENU,
    PROMPT_EMPTY,
    PROMPT_FILE_MISSING,
    RESERVED_KEY,
    TRANSFER_TARGET,
    UNKNOWN_DEPARTMENT,
    UNKNOWN_EMERGENCY,
    UNKNOWN_NODE,
    UNKNOWN_PROMPT,
    UNREACHABLE,
    CheckerBase,
    dotted,
)
from ivr.config.yamlpos import Path as YPath


class MenuChecks(CheckerBase):
    def check_menu(self, menu: MenuFile, departments: DepartmentsFile | None) -> None:
        s = menu.settings
        nodes = menu.nodes
        settings_ok = (MENU, "settings") not in self.broken
        for name in ("entry", "fallback", "emergency"):
            target = getattr(s, name)
            if settings_ok and not self.known(MENU, "nodes", target, nodes):
                self.add(
                    MENU,
                    ("settings", name),
                    f"settings.{name}: no node named {target!r}",
                    UNKNOWN_NODE,
                )
        if settings_ok and not self.known(MENU, "prompts", s.invalid_prompt, menu.prompts):
            self.add(
                MENU,
                ("settings", "invalid_prompt"),
                f"settings.invalid_prompt: no prompt named {s.invalid_prompt!r}",
                UNKNOWN_PROMPT,
            )
        for i, name in enumerate(s.notice if settings_ok else []):
            if not self.known(MENU, "prompts", name, menu.prompts):
                self.add(
                    MENU,
                    ("settings", "notice", i),
                    f"settings.notice: no prompt named {name!r} (add it to prompts, or take "
                    "it out of the notices)",
                    UNKNOWN_PROMPT,
                    at_key=True,  # settings: when the notice is the default
                )
        for pname, prompt in menu.prompts.items():
            if not prompt.text and not prompt.file:
                self.add(
                    MENU,
                    ("prompts", pname),
                    f"prompt {pname!r} has neither text nor file",
                    PROMPT_EMPTY,
                    at_key=True,
                )
            if prompt.file and not (self.directory / prompt.file).is_file():
                self.add(
                    MENU,
                    ("prompts", pname, "file"),
                    f"prompt {pname!r}: audio file {prompt.file!r} not found in {self.directory}",
                    PROMPT_FILE_MISSING,
                )
        for ename, dial in menu.emergency_lines.items():
            self.check_dial(MENU, ("emergency_lines", ename), dial)

        reserved = {s.operator_key: "the operator key"}
        if s.emergency_key:
            reserved[s.emergency_key] = "the emergency key"
        for node_id, node in nodes.items():
            base: YPath = ("nodes", node_id)
            prompt_lists = [("prompt", node.prompt)]
            if isinstance(node, MenuNode) and node.reprompt is not None:
                prompt_lists.append(("reprompt", node.reprompt))
            for key, names in prompt_lists:
                for i, pname in enumerate(names):
                    if not self.known(MENU, "prompts", pname, menu.prompts):
                        self.add(
                            MENU,
                            (*base, key, i),
                            f"node {node_id!r}: no prompt named {pname!r}",
                            UNKNOWN_PROMPT,
                        )
            for target, tpath in self.targets(node_id, node):
                if not self.known(MENU, "nodes", target, nodes):
                    self.add(
                        MENU,
                        tpath,
                        f"node {node_id!r}: {dotted(tpath[2:])} points to {target!r}, "
                        "which is not a node",
                        UNKNOWN_NODE,
                    )
            if isinstance(node, MenuNode):
                self.check_keys(node_id, node, reserved)
            elif isinstance(node, HoursNode):
                if departments is not None and not self.known(
                    DEPARTMENTS, "departments", node.department, departments.departments
                ):
                    self.add(
                        MENU,
                        (*base, "department"),
                        f"node {node_id!r}: no department named {node.department!r}",
                        UNKNOWN_DEPARTMENT,
                    )
            elif isinstance(node, TransferNode):
                if (node.dial is None) == (node.emergency is None):
                    self.add(
                        MENU,
                        base,
                        f"transfer node {node_id!r} needs exactly one of 'dial' and 'emergency'",
                        TRANSFER_TARGET,
                        at_key=True,
                    )
                if node.dial is not None:
                    self.check_dial(MENU, (*base, "dial"), node.dial)
                if node.emergency is not None and not self.known(
                    MENU, "emergency_lines", node.emergency, menu.emergency_lines
                ):
                    self.add(
                        MENU,
                        (*base, "emergency"),
                        f"node {node_id!r}: no emergency line {node.emergency!r} in "
                        "emergency_lines",
                        UNKNOWN_EMERGENCY,
                    )
        if not any(k == MENU for k, _ in self.broken):
            self.check_graph(menu)  # a graph with holes would give misleading reports

    def check_keys(self, node_id: str, node: MenuNode, reserved: dict[str, str]) -> None:
        keys = list(node.options)
        for key in keys:
            kpath: YPath = ("nodes", node_id, "options", key)
            if key in reserved:
                self.add(
                    MENU,
                    kpath,
                    f"menu {node_id!r}: key {key!r} is {reserved[key]} and cannot be an option",
                    RESERVED_KEY,
                    at_key=True,
                )
                continue
            for other in [*keys, *reserved]:
                if other != key and other.startswith(key):
                    whose = reserved.get(other, "option")
                    self.add(
                        MENU,
                        kpath,
                        f"menu {node_id!r}: key {key!r} is a prefix of {other!r} ({whose}); "
                        "a caller could never dial the longer one",
                        AMBIGUOUS_KEY,
                        at_key=True,
                    )

    def targets(self, node_id: str, node: Any) -> Iterator[tuple[str, YPath]]:
        """Explicit node references of one node, with the path of each."""
        base: YPath = ("nodes", node_id)
        if isinstance(node, MenuNode):
            for key, target in node.options.items():
                yield target, (*base, "options", key)
            if node.on_no_input:
                yield node.on_no_input, (*base, "on_no_input")
            if node.on_invalid:
                yield node.on_invalid, (*base, "on_invalid")
        elif isinstance(node, PlayNode | LookupNode | MessageNode):
            yield node.next, (*base, "next")
        elif isinstance(node, TransferNode):
            if node.on_fail:
                yield node.on_fail, (*base, "on_fail")
        elif isinstance(node, HoursNode):
            yield node.open, (*base, "open")
            yield node.closed, (*base, "closed")

    def edges(self, menu: MenuFile) -> dict[str, set[str]]:
        """Every way a call can move: explicit targets plus the defaults (silence, mistakes
        and the operator key go to settings.fallback; the emergency key to settings.emergency;
        a failed transfer to settings.fallback)."""
        s = menu.settings
        graph: dict[str, set[str]] = {}
        for node_id, node in menu.nodes.items():
            out = {t for t, _ in self.targets(node_id, node)}
            if isinstance(node, MenuNode):
                out.add(s.fallback)  # operator key; also silence/mistakes by default
                if s.emergency_key:
                    out.add(s.emergency)
            elif isinstance(node, TransferNode) and not node.on_fail:
                out.add(s.fallback)
            graph[node_id] = {t for t in out if t in menu.nodes}
        return graph

    def check_graph(self, menu: MenuFile) -> None:
        s = menu.settings
        nodes = menu.nodes
        graph = self.edges(menu)
        lines: LinesFile | None = self.sources[LINES].model
        roots = [s.entry, s.fallback, s.emergency]
        if lines is not None:
            roots += [line.entry for line in lines.lines if line.entry]
        seen: set[str] = set()
        todo = [r for r in roots if r in nodes]
        while todo:
            n = todo.pop()
            if n not in seen:
                seen.add(n)
                todo.extend(graph[n])
        for node_id in nodes:
            if node_id not in seen:
                self.add(
                    MENU,
                    ("nodes", node_id),
                    f"node {node_id!r} cannot be reached from settings.entry, settings.fallback, "
                    "settings.emergency or any line's entry",
                    UNREACHABLE,
                    at_key=True,
                )

        if s.fallback in nodes and not self.reaches_person(menu, s.fallback, set()):
            self.add(
                MENU,
                ("settings", "fallback"),
                f"settings.fallback: node {s.fallback!r} does not lead to a person without caller "
                "input; it must be a queue node, or a play/hours node leading to one",
                FALLBACK_NO_PERSON,
            )

        # Nodes that can reach a queue node (a person), by walking the edges backwards.
        reverse: dict[str, set[str]] = {n: set() for n in nodes}
        for n, outs in graph.items():
            for t in outs:
                reverse[t].add(n)
        escapes = {n for n, node in nodes.items() if isinstance(node, QueueNode)}
        todo = list(escapes)
        while todo:
            for p in reverse[todo.pop()]:
                if p not in escapes:
                    escapes.add(p)
                    todo.append(p)
        stuck = {n: {t for t in graph[n] if t not in escapes} for n in nodes if n not in escapes}
        order = list(nodes)
        for component in _sccs(stuck):
            cyclic = len(component) > 1 or any(n in stuck[n] for n in component)
            if not cyclic:
                continue
            members = sorted(component, key=order.index)
            self.add(
                MENU,
                ("nodes", members[0]),
                f"nodes {', '.join(members)} form a loop with no way out to a person "
                "(none of them leads to a queue node)",
                LOOP_NO_PERSON,
                at_key=True,
            )

    def reaches_person(self, menu: MenuFile, node_id: str, visiting: set[str]) -> bool:
        """Whether ``node_id`` reaches a queue node with no key pressed."""
        node = menu.nodes.get(node_id)
        if node is None or node_id in visiting:
            return False
        visiting = visiting | {node_id}
        if isinstance(node, QueueNode):
            return True
        if isinstance(node, PlayNode):
            return self.reaches_person(menu, node.next, visiting)
        if isinstance(node, HoursNode):
            return self.reaches_person(menu, node.open, visiting) and self.reaches_person(
                menu, node.closed, visiting
            )
        if isinstance(node, TransferNode):
            on_fail = node.on_fail or menu.settings.fallback
            return self.reaches_person(menu, on_fail, visiting)
        return False  # menu, lookup and message nodes wait for the caller


def _sccs(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components (Tarjan, iterative) of ``graph``'s nodes."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in graph:
                    continue
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    advanced = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                result.append(component)
    return result
