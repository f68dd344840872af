"""Typed errors of the engine.

Every error a user can cause is a `FinetunerError` whose message says what went wrong and what to do.
Each also subclasses the built-in it refines (as huggingface_hub does), so callers that catch
`ValueError` or `FileNotFoundError` keep working. The studio turns these into messages on the page in
one place (`finetuner.ui.handlers`); the CLI prints them and exits with status 2.
"""


class FinetunerError(Exception):
    """Base class: a problem the user can fix, with a message that says how."""


class ConfigError(FinetunerError, ValueError):
    """A configuration value is missing, out of range or inconsistent."""


class DataError(FinetunerError, ValueError):
    """The dataset cannot be used as given (format, columns, labels, size)."""


class DataFileNotFoundError(DataError, FileNotFoundError):
    """A local data file does not exist."""


class ModelLoadError(FinetunerError, OSError):
    """A model or tokenizer could not be loaded from the Hub or a folder."""


class RunError(FinetunerError, RuntimeError):
    """A run cannot do what was asked in its current state."""


class RunNotFoundError(RunError, LookupError):
    """No run folder with that id exists."""


class HubError(FinetunerError, RuntimeError):
    """The Hugging Face Hub refused or could not be reached."""
