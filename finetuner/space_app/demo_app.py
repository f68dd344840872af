"""A demo of a fine-tuned model, as a Hugging Face Space (created by finetuner).

`finetuner.hub.deploy_demo_space` fills in the settings below and uploads this file as the Space's
app.py. The model loads from the Hub on first use (with HF_TOKEN if the Space has that secret, which a
private model needs). It also runs as it is: `MODEL_ID=<user>/<model> python demo_app.py`.
"""

import functools
import os

import gradio as gr

# Filled in by finetuner when the Space is created.
MODEL_ID = "finetuner/demo-model"
TITLE = "Text classification demo"
EXAMPLES = []
PAIRS = False
PIPELINE = "text-classification"
LANGUAGES = {}  # a multilingual seq2seq model's src_lang and tgt_lang, as trained (its saved tokenizer has them too)

MAX_CHARACTERS = 20_000
PIPELINE_OPTIONS = {
    # Every label's probability; a text longer than the model reads is cut where it stops reading, not refused.
    "text-classification": {"top_k": None, "truncation": True},
    # Each word by its first sub-token, the one its tag was trained on (the others are not): whole words and entities.
    "token-classification": {"aggregation_strategy": "first"},
}


def model_id() -> str:
    return os.environ.get("MODEL_ID") or MODEL_ID


SEQ2SEQ = ("summarization", "text2text-generation")  # transformers 5 has no pipeline for these: tokenizer + model


@functools.lru_cache(maxsize=1)
def load(name: str):
    token = os.environ.get("HF_TOKEN") or None
    if PIPELINE in SEQ2SEQ:
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        return AutoTokenizer.from_pretrained(name, token=token, **LANGUAGES), AutoModelForSeq2SeqLM.from_pretrained(name, token=token)
    from transformers import pipeline

    # The tokenizer from the repo itself: for an adapter repo the pipeline would take the base model's, which
    # lacks the chat template (and tokens) the adapter was trained with.
    return pipeline(PIPELINE, model=name, tokenizer=name, token=token, **PIPELINE_OPTIONS.get(PIPELINE, {}))


def predict(text: str, text_pair: str = ""):
    """What the model makes of a text: label probabilities, tagged spans, or generated text."""
    if not text or not text.strip():
        raise gr.Error("Type a text first.")
    text, text_pair = text[:MAX_CHARACTERS], (text_pair or "")[:MAX_CHARACTERS]
    try:
        model = load(model_id())
    except OSError as error:
        raise gr.Error(f"Could not load {model_id()}: {error}. If the model is private, add a read token as the secret HF_TOKEN in this Space's settings.")
    if PIPELINE == "text-classification":
        scores = model({"text": text, "text_pair": text_pair} if PAIRS else text)
        if scores and isinstance(scores[0], list):  # some versions nest one list per input
            scores = scores[0]
        return {s["label"]: float(s["score"]) for s in scores}
    if PIPELINE == "token-classification":
        entities = [{"entity": e["entity_group"], "start": int(e["start"]), "end": int(e["end"])} for e in model(text, stride=window_overlap(model.tokenizer))]
        return {"text": text, "entities": entities}
    if PIPELINE == "text-generation":
        # Thinking off, as finetuner trained it: a hybrid-reasoning template (Qwen3's) opens the answer with an empty
        # reasoning block only so; templates without the switch ignore it.
        output = model([{"role": "user", "content": text}], max_new_tokens=256, tokenizer_encode_kwargs={"enable_thinking": False})[0]["generated_text"]
        return output[-1]["content"] if isinstance(output, list) else output
    tokenizer, model = model
    prefix = getattr(model.config, "prefix", None) or ""  # the source prefix the model was trained with, e.g. "summarize: "
    inputs = tokenizer(prefix + text, truncation=True, return_tensors="pt")
    length = model.generation_config.max_new_tokens or 256  # the run's generation length, saved with the model
    # generation starts as trained: the target language's code forced first (mBART-50, NLLB) or starting the decoder (mBART), saved with the model
    return tokenizer.decode(model.generate(**inputs, max_new_tokens=length)[0], skip_special_tokens=True)


def window_overlap(tokenizer) -> int:
    """Tokens shared by two windows of a text longer than the model reads (a quarter of a window, as in the studio):
    with it the pipeline tags such a text to its end; without it, it stops after the first window, silently."""
    return min(tokenizer.model_max_length, 512) // 4


def output_component():
    if PIPELINE == "text-classification":
        return gr.Label(label="Prediction", num_top_classes=10)
    if PIPELINE == "token-classification":
        return gr.HighlightedText(label="Entities", combine_adjacent=True)
    return gr.Textbox(label="Output", lines=8)


def build_demo() -> gr.Blocks:
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(f"# {TITLE}\nModel: [{model_id()}](https://huggingface.co/{model_id()}).")
        with gr.Row():
            with gr.Column():
                text = gr.Textbox(label="First text" if PAIRS else "Text", lines=4, placeholder="Type or paste a text...")
                pair = gr.Textbox(label="Second text", lines=2, visible=PAIRS)
                button = gr.Button("Run", variant="primary")
            output = output_component()
        button.click(predict, [text, pair], output, api_name="predict")
        text.submit(predict, [text, pair], output, api_visibility="private")
        if EXAMPLES:
            gr.Examples([[e] for e in EXAMPLES], [text])
        gr.Markdown("Made with finetuner.")
    return demo


demo = build_demo()

if __name__ == "__main__":
    demo.launch()
