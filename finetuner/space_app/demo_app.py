"""A demo of a text-classification model, as a Hugging Face Space (created by finetuner).

`finetuner.hub.deploy_demo_space` fills in the four settings below and uploads this file as the
Space's app.py. The model loads from the Hub on first use (with HF_TOKEN if the Space has that
secret, which a private model needs). It is also importable and runnable as it is:
`MODEL_ID=<user>/<model> python demo_app.py`.
"""

import functools
import os

import gradio as gr

# Filled in by finetuner when the Space is created.
MODEL_ID = "finetuner/demo-model"
TITLE = "Text classification demo"
EXAMPLES = []
PAIRS = False

MAX_CHARACTERS = 20_000


@functools.lru_cache(maxsize=1)
def classifier(model_id: str):
    from transformers import pipeline

    return pipeline("text-classification", model=model_id, token=os.environ.get("HF_TOKEN") or None, top_k=None)


def classify(text: str, text_pair: str = "") -> dict:
    """Every label's probability for a text (or a pair of texts)."""
    if not text or not text.strip():
        raise gr.Error("Type a text to classify.")
    model_id = os.environ.get("MODEL_ID") or MODEL_ID
    item = {"text": text[:MAX_CHARACTERS], "text_pair": text_pair[:MAX_CHARACTERS]} if PAIRS else text[:MAX_CHARACTERS]
    try:
        scores = classifier(model_id)(item)
    except OSError as error:
        raise gr.Error(f"Could not load {model_id}: {error}. If the model is private, add a read token as the secret HF_TOKEN in this Space's settings.")
    if scores and isinstance(scores[0], list):  # some versions nest one list per input
        scores = scores[0]
    return {s["label"]: float(s["score"]) for s in scores}


def build_demo() -> gr.Blocks:
    model_id = os.environ.get("MODEL_ID") or MODEL_ID
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(f"# {TITLE}\nModel: [{model_id}](https://huggingface.co/{model_id}). Type a text and see the probability of each label.")
        with gr.Row():
            with gr.Column():
                text = gr.Textbox(label="Text" if not PAIRS else "First text", lines=4, placeholder="Type or paste a text...")
                pair = gr.Textbox(label="Second text", lines=2, visible=PAIRS)
                button = gr.Button("Classify", variant="primary")
            label = gr.Label(label="Prediction", num_top_classes=10)
        button.click(classify, [text, pair], label, api_name="classify")
        text.submit(classify, [text, pair], label, api_visibility="private")
        if EXAMPLES:
            gr.Examples([[e] for e in EXAMPLES], [text])
        gr.Markdown("Made with finetuner.")
    return demo


demo = build_demo()

if __name__ == "__main__":
    demo.launch()
