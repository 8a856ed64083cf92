"""Mutation testing of the exactly-once core: would the tests notice a broken client?

    python tests/mutants.py              # or: make mutants
    python tests/mutants.py --list       # the mutants, without running anything
    python tests/mutants.py --only _pacing --timeout 90
    python tests/mutants.py --rev HEAD   # a commit, not the working tree

Each mutant is one small change to one line of the client, retry or pacing code (a
comparison flipped, an exception dropped from an ``except``, a statement deleted, a
constant zeroed...). The package and its tests are copied to a temporary directory
first and only the copy is ever changed, so a run never touches the working tree and
the code under test is the snapshot taken at its start (of the working tree, or of a
commit with ``--rev``). A mutant is *killed* when the
tests fail (or hang past the timeout) with it in place; a *survivor* is a change the
tests did not notice: either equivalent (list it, with why, in tests/README.md) or a
missing test. No dependency beyond the standard library and the test suite's own.
"""

from __future__ import annotations

import argparse
import ast
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: The modules under test, as globs: the exactly-once core of the client, whichever
#: files it is split into. Edit here when a module joins or leaves it.
TARGETS = (
    "polyout/_client*.py",
    "polyout/_client/*.py",
    "polyout/_placing.py",
    "polyout/_sending.py",
    "polyout/_session.py",
    "polyout/_following.py",
    "polyout/_retry.py",
    "polyout/_pacing.py",
)

#: The tests that guard them. Those most likely to kill a mutant of a module run first
#: (pytest stops at the first failure), then every client test, then the campaign's.
FOCUS = {
    "_pacing": ("tests/client/test_pacer.py",),
    "_retry": ("tests/client/test_retry_after.py", "tests/client/test_retries.py"),
    "": (
        "tests/client/test_retries.py",
        "tests/client/test_trigger_faults.py",
        "tests/client/test_not_placed.py",
    ),
}
TESTS = (
    "tests/client/test_*.py",
    "tests/campaign/test_pacing_and_faults.py",
    "tests/reliability/test_fault_schedules.py",
)

#: Functions that only word messages: their mutants cost minutes and prove nothing
#: about what is sent.
SKIPPED_FUNCTIONS = frozenset(
    {"__repr__", "_describe", "_error_details", "_text", "_opt", "_log_retry"}
)

_COMPARISONS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
_ARITHMETIC: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
}
#: An exception widened to its parent: the mistake that makes "never sent" too broad.
_WIDER = {
    "ClientConnectorError": "ClientOSError",
    "ConnectionTimeoutError": "ServerTimeoutError",
}
_QUIET_CALLS = ("logger.", "_log.", "log.")  # log lines are not behaviour


@dataclass(frozen=True)
class Mutant:
    path: str  # relative to the repository
    line: int
    start: int  # character offsets of the replaced text in the file
    end: int
    replacement: str
    description: str

    def apply(self, source: str) -> str:
        return source[: self.start] + self.replacement + source[self.end :]

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.description}"


class _Finder(ast.NodeVisitor):
    def __init__(self, path: str, source: str) -> None:
        self.path = path
        self.source = source
        self._line_starts = [0]
        for line in source.splitlines(keepends=True):
            self._line_starts.append(self._line_starts[-1] + len(line))
        self.mutants: list[Mutant] = []

    def _offset(self, line: int, col: int) -> int:
        # ast columns count UTF-8 bytes; the target files are ASCII-safe where it matters.
        text = self.source[self._line_starts[line - 1] : self._line_starts[line]]
        return self._line_starts[line - 1] + len(text.encode()[:col].decode(errors="ignore"))

    def _replace(self, node: ast.AST, replacement: str, description: str) -> None:
        start = self._offset(node.lineno, node.col_offset)  # type: ignore[attr-defined]
        end = self._offset(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]
        self.mutants.append(
            Mutant(self.path, node.lineno, start, end, replacement, description)  # type: ignore[attr-defined]
        )

    def _segment(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.source, node) or ast.unparse(node)

    # -- where not to look ----------------------------------------------------------------
    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._visit_body(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._visit_body(node)

    def _visit_body(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        if node.name in SKIPPED_FUNCTIONS:
            return
        for default in [*node.args.defaults, *node.args.kw_defaults]:
            if default is not None:
                self.visit(default)
        self._visit_statements(node.body)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._visit_statements(node.body)

    def visit_Module(self, node: ast.Module) -> None:
        self._visit_statements(node.body)

    def _visit_statements(self, body: list[ast.stmt]) -> None:
        for statement in body:
            if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
                continue  # a docstring
            if isinstance(statement, (ast.Import, ast.ImportFrom)):
                continue
            if isinstance(statement, ast.AnnAssign):
                if statement.value is not None:
                    self.visit(statement.value)
                continue
            if isinstance(statement, ast.Assign) and any(
                isinstance(target, ast.Name) and target.id == "__all__"
                for target in statement.targets
            ):
                continue
            self.visit(statement)

    def visit_Call(self, node: ast.Call) -> None:
        name = self._segment(node.func)
        if name.startswith(_QUIET_CALLS):
            return
        if name in {"max", "min"} and len(node.args) >= 2 and not node.keywords:
            for dropped in node.args:
                kept = ", ".join(self._segment(arg) for arg in node.args if arg is not dropped)
                short = kept if len(node.args) == 2 else f"{name}({kept})"
                self._replace(node, short, f"{name}(...) -> {short}")
        for keyword in node.keywords:
            if keyword.arg is not None:
                call = ast.Call(
                    func=node.func,
                    args=node.args,
                    keywords=[k for k in node.keywords if k is not keyword],
                )
                self._replace(node, ast.unparse(call), f"drop {keyword.arg}= from {name}(...)")
        self.generic_visit(node)

    # -- statements -----------------------------------------------------------------------
    def visit_Expr(self, node: ast.Expr) -> None:
        if isinstance(node.value, (ast.Call, ast.Await)):
            call = node.value.value if isinstance(node.value, ast.Await) else node.value
            if not (
                isinstance(call, ast.Call) and self._segment(call.func).startswith(_QUIET_CALLS)
            ):
                self._replace(node, "pass", f"delete `{self._segment(node)[:60]}`")
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        if all(isinstance(target, ast.Attribute) for target in node.targets):
            self._replace(node, "pass", f"delete `{self._segment(node)[:60]}`")
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._replace(node, "pass", f"delete `{self._segment(node)[:60]}`")
        self.generic_visit(node)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        caught = node.type
        names = caught.elts if isinstance(caught, ast.Tuple) else [caught] if caught else []
        if isinstance(caught, ast.Tuple) and len(names) > 1:
            for dropped in names:
                kept = ", ".join(self._segment(n) for n in names if n is not dropped)
                self._replace(caught, f"({kept},)", f"except: drop {self._segment(dropped)}")
        for name in names:
            text = self._segment(name)
            for narrow, wide in _WIDER.items():
                if text.endswith(narrow):
                    widened = text[: -len(narrow)] + wide
                    self._replace(name, widened, f"except: {text} -> {widened}")
        self.generic_visit(node)

    # -- expressions ----------------------------------------------------------------------
    def visit_Compare(self, node: ast.Compare) -> None:
        for index, op in enumerate(node.ops):
            swapped = _COMPARISONS.get(type(op))
            if swapped is not None:
                ops = list(node.ops)
                ops[index] = swapped()
                mutated = ast.Compare(left=node.left, ops=ops, comparators=node.comparators)
                self._replace(
                    node, ast.unparse(mutated), f"{self._segment(node)} -> {ast.unparse(mutated)}"
                )
        self.generic_visit(node)

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        other: ast.boolop = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        mutated = ast.BoolOp(op=other, values=node.values)
        self._replace(
            node,
            f"({ast.unparse(mutated)})",
            f"{type(node.op).__name__.lower()} -> {type(other).__name__.lower()}",
        )
        self.generic_visit(node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> None:
        if isinstance(node.op, ast.Not):
            self._replace(
                node,
                f"({self._segment(node.operand)})",
                f"drop `not` in {self._segment(node)[:60]}",
            )
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        swapped = _ARITHMETIC.get(type(node.op))
        textual = any(
            isinstance(side, ast.JoinedStr)
            or (isinstance(side, ast.Constant) and isinstance(side.value, (str, bytes)))
            for side in (node.left, node.right)
        )
        constant = isinstance(node.left, ast.Constant) and isinstance(node.right, ast.Constant)
        if swapped is not None and not textual and not constant:
            mutated = ast.BinOp(left=node.left, op=swapped(), right=node.right)
            self._replace(
                node,
                f"({ast.unparse(mutated)})",
                f"{self._segment(node)} -> {ast.unparse(mutated)}",
            )
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        value = node.value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            changed = "1" if value == 0 else "0"
            self._replace(node, changed, f"constant {self._segment(node)} -> {changed}")

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        return  # message text, not behaviour


def find_mutants(root: Path, paths: list[str]) -> list[Mutant]:
    found: list[Mutant] = []
    for path in paths:
        source = (root / path).read_text()
        finder = _Finder(path, source)
        finder.visit(ast.parse(source))
        for mutant in finder.mutants:
            try:
                ast.parse(mutant.apply(source))
            except SyntaxError:
                continue  # an operator that does not fit here: not a mutant
            found.append(mutant)
    return found


def target_files(root: Path) -> list[str]:
    found = {str(p.relative_to(root)) for pattern in TARGETS for p in root.glob(pattern)}
    return sorted(found)


@dataclass
class Outcome:
    mutant: Mutant
    verdict: str  # killed, survived, timeout
    seconds: float


def tests_for(path: str, copy: Path) -> list[str]:
    """Test files for a mutant of ``path``: its focused ones first, each file once."""
    ordered: list[str] = []
    for key, focused in FOCUS.items():
        if key in path:
            ordered.extend(focused)
            break
    for pattern in TESTS:
        ordered.extend(sorted(str(p.relative_to(copy)) for p in copy.glob(pattern)))
    return [
        test for i, test in enumerate(ordered) if test not in ordered[:i] and (copy / test).exists()
    ]


def run_tests(copy: Path, tests: list[str], timeout: float) -> tuple[str, float]:
    env = {**os.environ, "PYTHONPATH": str(copy), "PYTHONDONTWRITEBYTECODE": "1"}
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    started = time.monotonic()
    try:
        result = subprocess.run(
            command, cwd=copy, env=env, capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return "timeout", time.monotonic() - started
    return ("survived" if result.returncode == 0 else "killed"), time.monotonic() - started


def snapshot(into: Path, rev: str | None) -> None:
    if rev is not None:
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", rev, "polyout", "tests", "pyproject.toml"],
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
        return
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache")
    for folder in ("polyout", "tests"):
        shutil.copytree(REPO / folder, into / folder, ignore=ignore)
    shutil.copy2(REPO / "pyproject.toml", into / "pyproject.toml")


def mutate(
    copy: Path, mutants: list[Mutant], tests: list[str] | None, timeout: float
) -> Iterator[Outcome]:
    imported = subprocess.run(
        [sys.executable, "-c", "import polyout; print(polyout.__file__)"],
        cwd=copy,
        env={**os.environ, "PYTHONPATH": str(copy)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not imported.startswith(str(copy)):
        sys.exit(f"the copy is not what gets imported ({imported}): refusing to run")
    verdict, seconds = run_tests(copy, tests or tests_for("", copy), timeout * 3)
    if verdict != "survived":
        sys.exit(f"the tests do not pass unmutated ({verdict}): fix that first")
    print(f"unmutated: the tests pass in {seconds:.0f} s", flush=True)
    originals = {m.path: (copy / m.path).read_text() for m in mutants}
    for mutant in mutants:
        target = copy / mutant.path
        target.write_text(mutant.apply(originals[mutant.path]))
        try:
            verdict, seconds = run_tests(copy, tests or tests_for(mutant.path, copy), timeout)
        finally:
            target.write_text(originals[mutant.path])
        yield Outcome(mutant, verdict, seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--list", action="store_true", help="print the mutants and stop")
    parser.add_argument("--only", default="", help="only files whose path contains this")
    parser.add_argument("--line", type=int, default=0, help="only mutants on this line")
    parser.add_argument("--rev", help="test this commit instead of the working tree")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per mutant")
    parser.add_argument("--tests", nargs="*", help="test paths to run instead of the usual")
    parser.add_argument(
        "--fail-on-survivors", action="store_true", help="exit 1 when a mutant survives"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="polyout-mutants-") as folder:
        copy = Path(folder)
        snapshot(copy, args.rev)
        files = [path for path in target_files(copy) if args.only in path]
        mutants = [m for m in find_mutants(copy, files) if not args.line or m.line == args.line]
        print(f"{len(mutants)} mutants in {', '.join(files)}", flush=True)
        if args.list:
            print("\n".join(str(mutant) for mutant in mutants))
            return 0
        outcomes: list[Outcome] = []
        for number, outcome in enumerate(mutate(copy, mutants, args.tests, args.timeout), 1):
            outcomes.append(outcome)
            print(
                f"[{number}/{len(mutants)}] {outcome.verdict:8} {outcome.seconds:5.1f} s  "
                f"{outcome.mutant}",
                flush=True,
            )
    survivors = [o.mutant for o in outcomes if o.verdict == "survived"]
    killed = len(outcomes) - len(survivors)
    timeouts = sum(o.verdict == "timeout" for o in outcomes)
    print(f"\n{killed} killed ({timeouts} by timeout), {len(survivors)} survived")
    for mutant in survivors:
        print(f"SURVIVED {mutant}")
    return 1 if survivors and args.fail_on_survivors else 0


if __name__ == "__main__":
    sys.exit(main())
