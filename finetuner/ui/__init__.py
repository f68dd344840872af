"""The browser studio (Gradio). The only package besides app.py that imports gradio.

`build_studio(runs_dir)` is imported lazily so that `finetuner.ui.render` and `finetuner.ui.services`
can be used (and tested) without loading gradio.
"""


def build_studio(runs_dir="runs"):
    from .studio import build_studio as build

    return build(runs_dir)
