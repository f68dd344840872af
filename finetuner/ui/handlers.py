"""The one place where engine errors become messages on the page.

Every event handler of the studio is wrapped in `@ui_errors`. A `FinetunerError` (bad data, a config
value out of range, a run in the wrong state, a model that cannot be loaded) becomes a `gr.Error` with
the engine's own message, which says what to do. Anything else is a bug: its traceback goes to the
server log and the page shows one sentence, never a traceback. Either way the page stays usable.

The wrapper also imports transformers once, under a lock, before the first handler runs: the studio
starts without torch or transformers (the page is up in seconds), and transformers' lazy import is not
safe from several handler threads at once (a page load fires several requests; one of them could fail
with "module has no attribute PreTrainedTokenizerBase").
"""

import asyncio
import functools
import inspect
import logging
import threading

import gradio as gr

from ..errors import ConfigError, DataError, FinetunerError, ModelLoadError, RunError

log = logging.getLogger("finetuner.studio")
_import_lock = threading.Lock()
_model_libraries_imported = False


def import_model_libraries() -> None:
    """Import transformers' tokenizer and model classes once, whichever handler thread asks first."""
    global _model_libraries_imported
    if _model_libraries_imported:  # every later request: no lock on the hot path
        return
    with _import_lock:
        if not _model_libraries_imported:
            from transformers import AutoModel, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase  # noqa: F401, PLC0415

            _model_libraries_imported = True


def to_gr_error(error: BaseException) -> gr.Error:
    if isinstance(error, gr.Error):
        return error
    if isinstance(error, FinetunerError):
        return gr.Error(str(error), title=_title(error), print_exception=False)
    log.exception("Unexpected error in a studio handler", exc_info=error)
    return gr.Error(f"Something went wrong ({type(error).__name__}: {str(error)[:300]}). The details are in the server log.", title="Unexpected error")


def _title(error: FinetunerError) -> str:
    if isinstance(error, (ConfigError, DataError)):
        return "Please check your input"
    if isinstance(error, ModelLoadError):
        return "Model not available"
    if isinstance(error, RunError):
        return "Not possible right now"
    return "Error"


def ui_errors(fn):
    """Wrap a handler (plain, async, generator or async generator) so errors become `gr.Error`s."""
    if inspect.isasyncgenfunction(fn):

        @functools.wraps(fn)
        async def async_gen_wrapper(*args, **kwargs):
            try:
                await asyncio.to_thread(import_model_libraries)
                async for item in fn(*args, **kwargs):
                    yield item
            except gr.Error:
                raise
            except Exception as error:  # noqa: BLE001 - the adapter's job
                raise to_gr_error(error) from None

        return async_gen_wrapper
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def gen_wrapper(*args, **kwargs):
            try:
                import_model_libraries()
                yield from fn(*args, **kwargs)
            except gr.Error:
                raise
            except Exception as error:  # noqa: BLE001
                raise to_gr_error(error) from None

        return gen_wrapper
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def async_wrapper(*args, **kwargs):
            try:
                await asyncio.to_thread(import_model_libraries)
                return await fn(*args, **kwargs)
            except gr.Error:
                raise
            except Exception as error:  # noqa: BLE001
                raise to_gr_error(error) from None

        return async_wrapper

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            import_model_libraries()
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as error:  # noqa: BLE001
            raise to_gr_error(error) from None

    return wrapper
