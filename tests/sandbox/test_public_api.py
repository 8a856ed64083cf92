"""The public surface of polyout.sandbox, and its independence from the rest of polyout."""

from __future__ import annotations

import ast
import types
from pathlib import Path

import polyout.sandbox
from tests.fresh_interpreter import printed_by

PACKAGE = Path(polyout.sandbox.__file__).parent


def isort_style(name: str) -> tuple[int, str]:
    """Ruff's __all__ order (RUF022): CONSTANTS, then Classes, then functions."""
    kind = 0 if name.isupper() else 1 if name[:1].isupper() else 2
    return kind, name


def test_all_is_sorted_and_exactly_the_public_names() -> None:
    exported = polyout.sandbox.__all__
    assert exported == sorted(exported, key=isort_style)
    public = {
        name
        for name in dir(polyout.sandbox)  # loaded or not yet: dir lists both
        if not name.startswith("_")
        and not isinstance(getattr(polyout.sandbox, name), types.ModuleType)
    }
    assert public == set(exported)


def test_the_command_flags_load_without_the_server() -> None:
    # ``polyout --help`` builds the sandbox command's flags: they must not cost aiohttp.
    probe = (
        "import sys\n"
        "from polyout.sandbox import add_arguments, SandboxConfig\n"
        "print('aiohttp' in sys.modules)\n"
        "from polyout.sandbox import Sandbox\n"
        "print('aiohttp' in sys.modules)\n"
    )
    assert printed_by(probe).split() == ["False", "True"]


def test_implementation_lives_in_private_modules() -> None:
    modules = {path.name for path in PACKAGE.glob("*.py")}
    assert all(name.startswith("_") for name in modules)


def test_sandbox_imports_nothing_else_from_polyout() -> None:
    # The sandbox stands for the vendor's server: it must not share code with our client.
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                module = node.module or ""
                if node.level == 0:
                    assert not module.startswith("polyout") or module.startswith(
                        "polyout.sandbox"
                    ), path
                else:
                    assert node.level == 1, f"{path.name} reaches outside the package"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    assert not alias.name.startswith("polyout") or alias.name.startswith(
                        "polyout.sandbox"
                    )


def test_phonenumbers_heavy_data_is_never_imported() -> None:
    for path in PACKAGE.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        for heavy in ("geocoder", "carrier", "phonenumbers.timezone"):
            assert heavy not in text, (path.name, heavy)
