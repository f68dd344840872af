"""Task registry: each task is one module in this package; the registry names them without importing them.

A task module provides `prepare_data`, `build_model`, `tokenize`, `compute_metrics`, `evaluate` and
`predict` (see `text_classification.py`). Importing the registry imports nothing heavy, so the config
can validate task names at start-up.
"""

from importlib import import_module
from types import ModuleType

TASKS = {
    "text-classification": "finetuner.tasks.text_classification",
}


def get_task(name: str) -> ModuleType:
    """The module that implements task `name`."""
    return import_module(TASKS[name])
