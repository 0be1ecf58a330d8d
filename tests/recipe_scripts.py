"""Load a recipe or benchmark script as a module, by its path: the scripts are not a package (they run as
`python recipes/asr/run.py`), and nothing puts their folders on Python's path."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def load_script(relative: str) -> ModuleType:
    """The script at ROOT/relative (e.g. 'recipes/results_table.py'), imported once per test session."""
    name = "script_" + relative.removesuffix(".py").replace("/", "_").replace("-", "_")
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / relative)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]
