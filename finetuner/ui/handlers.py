"""The one place where engine errors become messages on the page.

Every event handler of the studio is wrapped in `@ui_errors`. A `FinetunerError` (bad data, a config
value out of range, a run in the wrong state, a model that cannot be loaded) becomes a `gr.Error` with
the engine's own message, which says what to do. Anything else is a bug: its traceback goes to the
server log and the page shows one sentence, never a traceback. Either way the page stays usable.
The message stays on the page until the user closes it (it says what to fix: a toast gone after a few
seconds is easily missed), and `@ui_errors(note=...)` adds what still holds after the failure, e.g.
that the data loaded before stays in use.

The wrapper also imports transformers once, under a lock, before the first handler runs: the studio
starts without torch or transformers (the page is up in seconds), and transformers' lazy import is not
safe from several handler threads at once (a page load fires several requests; one of them could fail
with "module has no attribute PreTrainedTokenizerBase").
"""

import asyncio
import functools
import inspect
import json
import logging
import threading
from typing import Callable

import gradio as gr

from ..errors import ConfigError, DataError, FinetunerError, ModelLoadError, RunError, without_tokens

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


def shown_in_browser(components: list, values: tuple) -> dict:
    """The arguments of an event that shows `values` in `components` in the browser, with no request to the server:
    a request may be answered after the answer to the user's next action (a network may answer in any order) and
    overwrite it, as a cleared estimate or answer did. The values go as the server would send them."""
    shown = [component.postprocess(value) for component, value in zip(components, values, strict=True)]
    shown = [value.model_dump() if hasattr(value, "model_dump") else value for value in shown]
    return dict(fn=None, inputs=None, outputs=components, js=f"() => {json.dumps(shown if len(shown) > 1 else shown[0])}", api_visibility="private", show_progress="hidden")


def picked(dropdown, handler: Callable, outputs: list, *, position: int = 0) -> dict:
    """The arguments of a dropdown's `.input` event that runs `handler` on a choice only. Gradio 6's dropdown sends
    `.input` at every blur as well: a list opened and left sent the value it had, and a mouse pick (which blurs the
    box) sent its choice twice, the second run after the first was answered. Each reset what its handler sets: a Task
    box opened and left put the task's model, learning rate, batch size and max length back over the user's own,
    and a model typed right after a pick was replaced. The box's value when it gets focus is noted in the browser,
    and an `.input` with that value (or one already sent) goes as None (`dropdown` at `position` of the inputs),
    which `handler` is not run for: its outputs stay as they are."""
    key = json.dumps(dropdown._id)
    dropdown.focus(None, dropdown, None, js=f"(value) => {{ (globalThis.finetunerFocused ??= {{}})[{key}] = value; }}", api_visibility="private", show_progress="hidden")

    @functools.wraps(handler)
    def event(*arguments):
        if arguments[position] is None:
            return gr.skip() if len(outputs) == 1 else [gr.skip()] * len(outputs)
        return handler(*arguments)

    js = (
        f"(...values) => {{ const seen = globalThis.finetunerFocused ??= {{}}; "
        f"if (values[{position}] === seen[{key}]) values[{position}] = null; else seen[{key}] = values[{position}]; return values; }}"
    )
    return dict(fn=event, outputs=outputs, js=js)


def to_gr_error(error: BaseException, note: str | None = None) -> gr.Error:
    """The message the page shows for `error`, kept until the user closes it; `note` (a sentence) follows it."""
    if isinstance(error, gr.Error):
        return error
    tail = f" {note}" if note else ""
    if isinstance(error, FinetunerError):
        return gr.Error(without_tokens(f"{error}{tail}"), title=_title(error), print_exception=False, duration=None)
    log.exception("Unexpected error in a studio handler", exc_info=error)
    return gr.Error(without_tokens(f"Something went wrong ({type(error).__name__}: {str(error)[:300]}). The details are in the server log.{tail}"), title="Unexpected error", duration=None)


def _title(error: FinetunerError) -> str:
    if isinstance(error, (ConfigError, DataError)):
        return "Please check your input"
    if isinstance(error, ModelLoadError):
        return "Model not available"
    if isinstance(error, RunError):
        return "Not possible right now"
    return "Error"


def ui_errors(fn=None, *, note: Callable[..., str | None] | None = None):
    """Wrap a handler (plain, async, generator or async generator) so errors become `gr.Error`s.

    `@ui_errors(note=fn)`: `fn(**arguments)`, given the handler's arguments by name, says in a sentence what
    still holds after a failure (or None); it follows the error's message."""
    if fn is None:
        return functools.partial(ui_errors, note=note)
    signature = inspect.signature(fn)

    def convert(error: BaseException, args: tuple, kwargs: dict) -> gr.Error:
        return to_gr_error(error, note(**signature.bind_partial(*args, **kwargs).arguments) if note else None)

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
                raise convert(error, args, kwargs) from None

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
                raise convert(error, args, kwargs) from None

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
                raise convert(error, args, kwargs) from None

        return async_wrapper

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            import_model_libraries()
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as error:  # noqa: BLE001
            raise convert(error, args, kwargs) from None

    return wrapper
