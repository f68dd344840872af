"""The one place where engine errors become messages on the page.

Every event handler of the studio is wrapped in `@ui_errors`. A `FinetunerError` (bad data, a config
value out of range, a run in the wrong state, a model that cannot be loaded) becomes a `gr.Error` with
the engine's own message, which says what to do. Anything else is a bug: its traceback goes to the
server log and the page shows one sentence, never a traceback. Either way the page stays usable.
"""

import functools
import inspect
import logging

import gradio as gr

from ..errors import ConfigError, DataError, FinetunerError, ModelLoadError, RunError

log = logging.getLogger("finetuner.studio")


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
                return await fn(*args, **kwargs)
            except gr.Error:
                raise
            except Exception as error:  # noqa: BLE001
                raise to_gr_error(error) from None

        return async_wrapper

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as error:  # noqa: BLE001
            raise to_gr_error(error) from None

    return wrapper
