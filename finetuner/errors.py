"""Typed errors of the engine.

Every error a user can cause is a `FinetunerError` whose message says what went wrong and what to do.
Each also subclasses the built-in it refines (as huggingface_hub does), so callers that catch
`ValueError` or `FileNotFoundError` keep working. The studio turns these into messages on the page in
one place (`finetuner.ui.handlers`); the CLI prints them and exits with status 2.
"""

import re

_TOKEN_SHAPE = re.compile(r"hf_[A-Za-z0-9]{20,}")


def without_tokens(text: str) -> str:
    """A message with anything shaped like a Hugging Face token masked. A message may quote what the user
    typed (an option's value, a server's answer), and it is printed, logged and shown on shared pages."""
    return _TOKEN_SHAPE.sub("hf_***", text)


class FinetunerError(Exception):
    """Base class: a problem the user can fix, with a message that says how."""


class ConfigError(FinetunerError, ValueError):
    """A configuration value is missing, out of range or inconsistent."""


class DataError(FinetunerError, ValueError):
    """The dataset cannot be used as given (format, columns, labels, size)."""


class DataFileNotFoundError(DataError, FileNotFoundError):
    """A local data file does not exist."""


class ColumnNotFoundError(DataError, LookupError):
    """The data lacks a column the task needs (or one named for it). Its message says which option names the
    column; evaluating a run on other data has none, and says instead to rename the file's columns."""


class ModelLoadError(FinetunerError, OSError):
    """A model or tokenizer could not be loaded from the Hub or a folder."""


class RunError(FinetunerError, RuntimeError):
    """A run cannot do what was asked in its current state."""


class RunNotFoundError(RunError, LookupError):
    """No run folder with that id exists."""


class HubError(FinetunerError, RuntimeError):
    """The Hugging Face Hub refused or could not be reached."""


# Hub errors: each names the cause and the fix; `finetuner.hub` raises them, never the token itself.
class HubTokenMissingError(HubError, PermissionError):
    """No Hugging Face token was given or found."""


class HubTokenInvalidError(HubError, PermissionError):
    """The Hub rejected the token (HTTP 401): invalid, revoked or expired."""


class HubReadOnlyTokenError(HubError, PermissionError):
    """The token can read but not write."""


class HubNamespaceError(HubError, PermissionError):
    """The token's user may not write to that user or organization namespace (HTTP 403)."""


class HubRepoNameError(HubError, ValueError):
    """The repository name is not a valid Hub repo id."""


class HubRepoNotFoundError(HubError, LookupError):
    """The repository does not exist, or the token cannot see it."""


class HubPaymentRequiredError(HubError):
    """The Hub refused for billing reasons (HTTP 402), e.g. a Gradio Space on a free account."""


class HubConflictError(HubError):
    """The Hub reported a conflict (HTTP 409): the repo changed meanwhile, or already exists."""


class HubSpaceTakenError(HubConflictError):
    """The Space holds another app (the studio, a demo, something else) that an upload would mix with."""


class HubHardwareError(HubError, ValueError):
    """The Space hardware named is not one the Hub offers."""


class HubCardError(HubError, ValueError):
    """The Hub rejected the model card or Space README metadata."""


class HubUnreachableError(HubError, ConnectionError):
    """The Hub could not be reached (network, proxy, offline mode) or is temporarily failing."""


class HubConnectionError(HubUnreachableError):
    """No answer from the Hub at all (network, proxy, offline mode), as opposed to a failing one. `offline_set`:
    the user set HF_HUB_OFFLINE (not finetuner, which sets it for a run whose model it reads from the cache)."""

    def __init__(self, message: str, *, endpoint: str = "", offline_set: bool = False):
        super().__init__(message)
        self.endpoint, self.offline_set = endpoint, offline_set


# Shared studio (a Space, a share link, an --auth page): what one visitor may not do.
class RunNotYoursError(RunError, PermissionError):
    """On a shared studio: the run was started by someone else (or does not exist)."""


class LocationNotAllowedError(ConfigError, PermissionError):
    """On a shared studio: a server file path was given as a dataset or model location."""
