"""The studio: a Gradio Blocks page built from one module per tab.

`build_studio(runs_dir)` returns the page; `app.py` launches it. Tabs are independent builders that
receive a `StudioContext` (the runs folder and the few per-session values they share) and create their
own `gr.Tab`. To add a tab, write `build_<name>_tab(ctx)` in its own module and list it in `tab_builders()`.

Shared per-session values, all small: the dataset *selection* (`gr.State`, a JSON dict), the id of the
run this page follows (a hidden textbox, so `/follow_run` takes it as a plain parameter), and the same
run id in the browser's localStorage (`gr.BrowserState`), so a reload or a reopened tab follows the run
again; the Data and Train tabs keep the loaded data and the form's values there the same way. Everything
else is read from the runs folder on demand.
"""

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import gradio as gr

from ..runs import RunStore
from . import services

TITLE = "finetuner studio"
INTRO = (
    "# finetuner studio\n"
    "Fine-tune a transformer model in your browser (text classification, named entities, summarization, instruction tuning): "
    "**Data → Train → Evaluate → Try it**. "
    "A small offline model and an example dataset are preselected, so you can go straight to "
    "**Train** and press *Start training*. Training runs in its own process: closing this tab never stops it."
)
CSS = """
.ft-log textarea { font-family: ui-monospace, SFMono-Regular, Menlo, monospace !important; font-size: 12px !important; }
.ft-cli textarea, .ft-cli code { font-size: 12px !important; }
footer { margin-top: 8px; }
/* Tables whose cells may hold one long unbroken value (a path, a pasted text): it wraps inside its column
   instead of widening the table and pushing the other columns out of view. */
/* The Data tab's charts with many classes: the class chart (one row per class, tall) under the text-length
   chart, both the page's width, instead of a short chart beside a tall one and blank space under it. */
.ft-charts.ft-charts-stacked { flex-direction: column-reverse; }
.ft-wrap-anywhere td span, .ft-wrap-anywhere td div { overflow-wrap: anywhere; }
"""


@dataclass
class StudioContext:
    """What every tab builder gets: the runs folder and the shared per-session components."""

    demo: gr.Blocks
    runs_dir: Path
    store: RunStore
    dataset: gr.State  # the dataset selection (services.default_selection() until the user loads another)
    current_run: gr.Textbox  # hidden: the run id this page follows
    # Kept in the browser's localStorage over a reload (and an app restart, see browser_key). Made here, outside
    # the tabs: inside gr.Tabs one would show as a tab, and inside a tab it is not read until that tab is opened.
    saved_run: gr.BrowserState  # the followed run's id
    saved_dataset: gr.BrowserState  # the loaded dataset selection
    saved_form: gr.BrowserState  # the Train form's values
    # The Hub tab's token field (a password box, rendered there): the Data, Train, Evaluate and Runs tabs' events
    # take it as an input too, so a token typed there reads the visitor's private data and models for them
    # (`ownership.reads_as_visitor`). It lives in the page and the request, never in gr.State or a file.
    hub_token: gr.Textbox
    components: dict[str, Any] = field(default_factory=dict)  # named components tabs expose to each other


def tab_builders() -> list[Callable[[StudioContext], None]]:
    """The tabs, in order. The Hub tab joins when its module is present."""
    from .dataset_tab import build_dataset_tab
    from .evaluation_tab import build_evaluation_tab
    from .inference_tab import build_inference_tab
    from .runs_tab import build_runs_tab
    from .training_tab import build_training_tab

    builders = [build_dataset_tab, build_training_tab, build_evaluation_tab, build_inference_tab, build_runs_tab]
    try:
        from .hub_tab import build_hub_tab
    except ImportError:
        pass
    else:
        builders.append(build_hub_tab)
    return builders


def browser_key(runs_dir: Path) -> str:
    """The key the page's browser-kept values are encrypted with, kept in the runs folder so that they
    survive an app restart too (a `gr.BrowserState` draws a new one at each start, and the values kept
    under the old one are lost). Not a secret: Gradio hands it to the page, which encrypts in the browser.
    A runs folder that cannot be written (a read-only share of past runs) gets a key for this start only: its
    runs can still be browsed, and Start says why it cannot train there."""
    path = runs_dir / ".browser-key"
    if not path.is_file():
        tmp = path.with_name(f".browser-key.{secrets.token_hex(4)}.tmp")
        try:
            tmp.write_text(secrets.token_hex(16), encoding="utf-8")
        except OSError:
            return secrets.token_hex(16)
        tmp.replace(path)
    return path.read_text(encoding="utf-8").strip()


def studio_context(demo: gr.Blocks, runs_dir: Path, key: str) -> StudioContext:
    """The components every tab shares, made inside `demo` (`key`: `browser_key`). The token field is made unrendered:
    the Hub tab renders it, or `build_studio` hidden where there is no Hub tab."""
    return StudioContext(
        demo=demo,
        runs_dir=runs_dir,
        store=RunStore(runs_dir),
        dataset=gr.State(services.default_selection()),
        current_run=gr.Textbox("", visible=False, label="Followed run"),
        saved_run=gr.BrowserState(None, storage_key="finetuner-followed-run", secret=key),
        saved_dataset=gr.BrowserState(None, storage_key="finetuner-dataset", secret=key),
        saved_form=gr.BrowserState(None, storage_key="finetuner-train-form", secret=key),
        hub_token=gr.Textbox(label="Hugging Face token", type="password", placeholder="hf_...", render=False),
    )


def build_studio(runs_dir: str | Path = "runs") -> gr.Blocks:
    """The whole studio page over the runs in `runs_dir` (building it imports neither torch nor transformers)."""
    runs_dir = Path(runs_dir).resolve()
    runs_dir.mkdir(parents=True, exist_ok=True)
    key = browser_key(runs_dir)
    with gr.Blocks(title=TITLE, fill_width=False) as demo:
        gr.Markdown(INTRO)
        ctx = studio_context(demo, runs_dir, key)
        with gr.Tabs():
            for build in tab_builders():
                build(ctx)
        if not ctx.hub_token.is_rendered:  # no Hub tab: the events' input is still on the page, hidden and empty
            ctx.hub_token.visible = False
            ctx.hub_token.render()
    demo.queue(default_concurrency_limit=4, max_size=64)
    return demo


# The Train tab's log shows its latest lines as they come, as a terminal does: Gradio 6's Textbox autoscroll
# scrolls once, when the box first fills, and not on later values. A user who scrolls up to read older lines
# is left there until they scroll back to the bottom.
FOLLOW_LOG_JS = """
() => {
  setInterval(() => {
    for (const box of document.querySelectorAll('.ft-log textarea')) {
      if (!box.dataset.ftFollow) {
        box.dataset.ftFollow = 'yes';
        box.addEventListener('scroll', () => {
          box.dataset.ftFollow = box.scrollTop + box.clientHeight >= box.scrollHeight - 24 ? 'yes' : 'no';
        });
      }
      if (box.value.length !== Number(box.dataset.ftLength || -1)) {
        box.dataset.ftLength = String(box.value.length);
        if (box.dataset.ftFollow === 'yes') box.scrollTop = box.scrollHeight;
      }
    }
  }, 400);
}
"""


def launch_options() -> dict[str, Any]:
    """Look-and-feel arguments of `launch()` (Gradio 6 takes theme, css and the page's own script there)."""
    return {"theme": gr.themes.Soft(primary_hue="indigo", secondary_hue="amber"), "css": CSS, "js": FOLLOW_LOG_JS}
