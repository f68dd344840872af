"""Try-it tab: use a finished run's model the way its task is used. The view follows the chosen run's task.

* Text classification: the probability of each label for a typed text.
* Named-entity recognition: the text with its entities highlighted (`gr.HighlightedText`, the entity
  type as the label) and the list of entities with their scores.
* Instruction tuning (causal LM): a chat that streams the answer as it is generated, with temperature,
  top-p and max-new-tokens; earlier turns are sent with each message (rendered with the model's chat
  template, or the plain template when it has none: the engine decides).
* Summarization (seq2seq): the generated summary of a pasted document.

Every task can also run on a whole file: a table with a text column, or the run's own training format
(sentence pairs, NER words, chats, instruction/input), read as training reads it. The column box says what the
chosen run's task reads (`batch_column_help`).

Endpoints (each takes the run id first; a run trained for another task is refused with a message that
names the endpoint to use):

* `/predict` (run_id, text) -> ({label: probability}, the prediction record). Text classification.
* `/predict_file` (run_id, file, text_column) -> (first rows, CSV path). `text_column` may name two columns,
  comma-separated, for a sentence-pair classifier; empty: the run's own columns, else detected. Every task: classification adds
  `predicted`, `confidence` and `prob_<label>` columns; NER `entities` and `tags`; generation
  `generated` or `summary`. The CSV has every column, complete; the preview puts the model's columns first,
  cuts texts past 300 characters and, past 5 classes, shows the 3 likeliest labels in one `top probabilities`
  column instead of the `prob_` ones.
* `/predict_entities` (run_id, text) -> (highlighted text, entity table). Named-entity recognition; the
  highlighted value reaches `gradio_client` as [{"token", "class_or_confidence"}] spans (the class is
  the entity type, None between entities); the table has entity, type, score, start, end.
* `/generate` (run_id, message, history, temperature, top_p, max_new_tokens) -> (conversation, message box).
  Causal LM, streaming: each update is the whole conversation with the answer so far as its last
  message (`client.submit(...)` yields them). `history` is [] to start, or the conversation an earlier
  call returned, to continue it. The second output clears the message box at the first update (the message
  joins the conversation) and leaves it alone after that (`gradio_client` reads {"__type__": "update"}), so
  a next message typed while the answer streams stays.
* `/summarize` (run_id, document, max_new_tokens, num_beams) -> summary. Seq2seq.

On an error (an empty text, a run of another task) the view's earlier answer is cleared, so it never reads as the
answer to the new input (the chat keeps its conversation).

Models are loaded once per run and cached by the engine, so typing stays fast while a run trains.
"""

import tempfile
from pathlib import Path

import gradio as gr
import pandas as pd

from ..data import MESSAGES_NAMES
from ..errors import DataError
from ..inference import trained_text_columns
from ..tasks import TASKS
from . import ownership, tables
from .dataset_tab import FILE_TYPES
from .handlers import picked, shown_in_browser, ui_errors
from .studio import StudioContext

CLASSIFICATION, NER, CAUSAL_LM, SEQ2SEQ = "text-classification", "token-classification", "causal-lm", "seq2seq"
VIEW_ORDER = (CLASSIFICATION, NER, CAUSAL_LM, SEQ2SEQ)
# Shown in the chat where the model's answer is empty; the model reads its own (empty) answer there, never this note.
NO_ANSWER = "(the model ended its answer at once: it generated no text)"
ENDPOINTS = {CLASSIFICATION: "/predict", NER: "/predict_entities", CAUSAL_LM: "/generate", SEQ2SEQ: "/summarize"}


EXAMPLES = [
    "A moving, beautifully acted film that stayed with me for days.",
    "Two hours of my life I will never get back.",
    "The plot was thin, but the soundtrack almost saved it.",
    "I laughed, I cried, and I would happily watch it again tomorrow.",
]
NER_EXAMPLES = [
    "Alice visited Paris on Monday with Bob.",
    "Angela Merkel met Emmanuel Macron in Berlin last week.",
    "Carol Smith flew from New York to Tokyo for the Olympic Games.",
    "Microsoft opened a new office in San Diego, said Satya Nadella.",
]
CHAT_EXAMPLES = [
    "What colour is the sky?",
    "Explain in two sentences what fine-tuning a language model means.",
    "Give me three tips for writing a clear email.",
    "Write a haiku about autumn.",
]
SUMMARY_EXAMPLES = [
    "The city council voted on Tuesday to turn the old railway yard into a park. The plan, debated for three "
    "years, includes a playground, a community garden and a cycle path linking the two halves of the town. "
    "Work starts next spring and should take eighteen months; the cost is shared with the regional government.",
    "Researchers trained a small language model on a million short stories written for children. Despite having "
    "fewer than thirty million parameters, the model wrote fluent, grammatical stories, and larger models trained "
    "on the same data improved mostly in keeping track of characters over long passages.",
]
FIXED_EXAMPLES = {CLASSIFICATION: EXAMPLES, NER: NER_EXAMPLES, CAUSAL_LM: CHAT_EXAMPLES, SEQ2SEQ: SUMMARY_EXAMPLES}
EXAMPLE_LABELS = {CLASSIFICATION: "Example inputs", NER: "Example sentences", CAUSAL_LM: "Example prompts", SEQ2SEQ: "Example documents"}
EXAMPLES_SHOWN = 4  # of the run's own test inputs, as clickable examples
# The column of the run's evaluation files (predictions_/generations_<split>.csv) that holds the model's input.
EVAL_INPUT_COLUMN = {CLASSIFICATION: "text", NER: "text", CAUSAL_LM: "prompt", SEQ2SEQ: "document"}
BATCH = {
    CLASSIFICATION: ("Classify a file", "Classify file"),
    NER: ("Find the entities in a file", "Tag file"),
    CAUSAL_LM: ("Answer every prompt of a file", "Answer prompts"),
    SEQ2SEQ: ("Summarize every document of a file", "Summarize file"),
}


def batch_column_help(task: str, trained: list[str] | None = None) -> str:
    """What the file's column box says for a run of `task`: the columns its batch prediction reads
    (`prediction_inputs` of the task), with the run's own (`trained`: its data_report's text columns) named."""
    own = [str(c) for c in trained or []]
    if task == NER:
        where = f"the run's own words column ({own[0]})" if own else "the run's own words column"
        return (f"Leave empty to read {where}, else one named tokens or words (a list of words, or words separated by spaces); "
                "a text column is split into words as a typed sentence is. Or name the column.")
    if task == CAUSAL_LM:
        if len(own) == 1 and own[0].lower() in MESSAGES_NAMES:
            where = f"the run's own chat column ({own[0]}, each conversation up to its last answer)"
        else:
            where = f"the run's own prompt column ({', with the input column '.join(own[:2])})" if own else "the run's own prompt column"
        return f"The prompts: leave empty to read {where}, else a chat's messages or a prompt column (prompt, instruction, question, ...). Or name the column; no answer column is needed."
    if task == SEQ2SEQ:
        where = f"the run's own document column ({own[0]})" if own else "the run's own document column"
        return f"The documents: leave empty to read {where}, else one named document, article, text, ... Or name the column; no summary column is needed."
    if len(own) == 2:
        return f"This model was trained on sentence pairs: leave empty to read its two text columns ({own[0]} and {own[1]}), or name both, comma-separated."
    if own:
        return f"Leave empty to read the run's own text column ({own[0]}), else one detected (text, sentence, review, ...). Or name the column."
    return "Leave empty to read the run's own text column(s), else one detected (text, sentence, review, ...). Or name the column; a sentence-pair model reads two, comma-separated."


VIEW_NOTES = {
    CLASSIFICATION: "Type a text: the model gives the probability of each label.",
    NER: "Type a sentence: the entities the model finds are highlighted, with their type.",
    CAUSAL_LM: "Chat with the model: its answer streams in as it is written. Earlier turns are sent with each message; *Clear* starts over.",
    SEQ2SEQ: "Paste a document: the model writes its summary.",
}
MAX_TEXT_CHARS = 20_000
MAX_HISTORY_MESSAGES = 100
DEFAULT_MAX_NEW_TOKENS = 128
TEMPERATURE = (0.0, 2.0, 0.7)  # minimum, maximum, default
TOP_P = (0.05, 1.0, 0.9)
MAX_NEW_TOKENS = (1, 2048)
SUMMARY_NEW_TOKENS = (1, 1024)
BEAMS = (1, 8, 1)


def build_inference_tab(ctx: StudioContext) -> None:
    with gr.Tab("4 · Try it", id="try") as tab:
        gr.Markdown("### Try a trained model\nChoose a run and use its model the way its task works: label probabilities, highlighted entities, a chat, or a summary; or run it on a whole file.")
        with gr.Row():
            run_picker = gr.Dropdown([], label="Model from run", info="Completed runs.", scale=3, allow_custom_value=True)
            refresh_button = gr.Button("↻", size="sm", scale=0, min_width=40)
        view_note = gr.Markdown(VIEW_NOTES[CLASSIFICATION])
        run_examples = gr.Dropdown([], label="Or a text from the run's test split", info="Pick one to copy it into the box.", allow_custom_value=True)

        # ---------------------------------------------------------------- text classification
        with gr.Column(visible=True) as classification_view:
            with gr.Row(equal_height=False):
                with gr.Column(scale=3):
                    text = gr.Textbox(value="", label="Text to classify", lines=4, placeholder="Type or paste a text…")
                    classify_button = gr.Button("Classify", variant="primary")
                    examples = {CLASSIFICATION: gr.Examples(EXAMPLES, inputs=text, label=EXAMPLE_LABELS[CLASSIFICATION])}
                with gr.Column(scale=2):
                    probabilities = gr.Label(label="Label probabilities", num_top_classes=10)
                    output = gr.JSON(label="Model output")

        # ---------------------------------------------------------------- named-entity recognition
        with gr.Column(visible=False) as ner_view:
            with gr.Row(equal_height=False):
                with gr.Column(scale=3):
                    ner_text = gr.Textbox(value="", label="Text to tag", lines=4, placeholder="Type or paste a sentence with names, places, organisations…")
                    ner_button = gr.Button("Find entities", variant="primary")
                    examples[NER] = gr.Examples(NER_EXAMPLES, inputs=ner_text, label=EXAMPLE_LABELS[NER])
                with gr.Column(scale=3):
                    highlighted = gr.HighlightedText(label="Entities", show_legend=True, combine_adjacent=False)
                    entity_table = gr.Dataframe(
                        value=pd.DataFrame(columns=["entity", "type", "score", "start", "end"]), label="Entities found (score: the model's mean probability over the entity's words)", interactive=False, wrap=True, max_height=300
                    )

        # ---------------------------------------------------------------- causal LM: chat
        with gr.Column(visible=False) as chat_view:
            with gr.Row(equal_height=False):
                with gr.Column(scale=4):
                    chatbot = gr.Chatbot(label="Conversation", height=420, placeholder="Ask the model something: its answer appears here as it is generated.", feedback_options=None, buttons=["copy", "copy_all"])
                    message = gr.Textbox(value="", label="Your message", lines=1, max_lines=8, placeholder="Type a message and press Enter (Shift+Enter for a new line)…")
                    with gr.Row():
                        send_button = gr.Button("Send", variant="primary")
                        stop_chat_button = gr.Button("Stop", variant="stop")
                        clear_button = gr.Button("Clear conversation")
                    examples[CAUSAL_LM] = gr.Examples(CHAT_EXAMPLES, inputs=message, label=EXAMPLE_LABELS[CAUSAL_LM])
                with gr.Column(scale=2, min_width=260):
                    temperature = gr.Slider(
                        TEMPERATURE[0], TEMPERATURE[1], value=TEMPERATURE[2], step=0.05, label="Temperature",
                        info="0: always the most likely next token (repeatable, as in evaluation); higher: more varied, more surprising.",
                    )
                    top_p = gr.Slider(
                        TOP_P[0], TOP_P[1], value=TOP_P[2], step=0.05, label="Top-p",
                        info="Sample only from the most likely tokens whose probabilities add up to this (1: all). Ignored at temperature 0.",
                    )
                    max_new_tokens = gr.Slider(MAX_NEW_TOKENS[0], MAX_NEW_TOKENS[1], value=DEFAULT_MAX_NEW_TOKENS, step=1, label="Max new tokens", info="The longest answer, in tokens.")

        # ---------------------------------------------------------------- seq2seq: summary
        with gr.Column(visible=False) as summary_view:
            with gr.Row(equal_height=False):
                with gr.Column(scale=3):
                    document = gr.Textbox(value="", label="Document to summarize", lines=10, placeholder="Paste a document…")
                    with gr.Row():
                        summary_new_tokens = gr.Slider(SUMMARY_NEW_TOKENS[0], SUMMARY_NEW_TOKENS[1], value=DEFAULT_MAX_NEW_TOKENS, step=1, label="Max summary length (tokens)")
                        num_beams = gr.Slider(BEAMS[0], BEAMS[1], value=BEAMS[2], step=1, label="Beams", info="1: greedy, as in evaluation; more: often better, slower.")
                    summarize_button = gr.Button("Summarize", variant="primary")
                    examples[SEQ2SEQ] = gr.Examples(SUMMARY_EXAMPLES, inputs=document, label=EXAMPLE_LABELS[SEQ2SEQ])
                with gr.Column(scale=2):
                    summary = gr.Textbox(value="", label="Generated summary", lines=8, interactive=False, buttons=["copy"])

        with gr.Accordion(BATCH[CLASSIFICATION][0], open=False) as batch_accordion:
            with gr.Row():
                batch_file = gr.File(label="File with a text column", file_types=FILE_TYPES)
                text_column = gr.Textbox(value="", label="Text column", placeholder="auto-detect", info=batch_column_help(CLASSIFICATION))
            batch_button = gr.Button(BATCH[CLASSIFICATION][1])
            batch_preview = gr.Dataframe(label="Predictions (first rows; long texts cut, the CSV has them whole)", interactive=False, wrap=True, max_height=360, elem_classes="ft-wrap-anywhere")
            batch_download = gr.File(label="Predictions (CSV)", interactive=False)

    views = [classification_view, ner_view, chat_view, summary_view]
    inputs_by_task = {CLASSIFICATION: text, NER: ner_text, CAUSAL_LM: message, SEQ2SEQ: document}

    # ------------------------------------------------------------------ shared checks

    def run_for(run_id, task: str, text_value, *, what: str, identity: tuple = ()):
        """The chosen run, after checking (in this order) that there is one, that the text is usable, that
        this visitor may use it (`identity`: request, profile, OAuth token; see ownership) and that the run learned `task`."""
        if not run_id:
            raise DataError("Choose a completed run first (train one in the Train tab).")
        if not (text_value or "").strip():
            raise DataError(f"Type {what} first.")
        if len(text_value) > MAX_TEXT_CHARS:
            raise DataError(f"The text has {len(text_value):,} characters; paste at most {MAX_TEXT_CHARS:,}.")
        run = ownership.owned_run(ctx, run_id, *identity)
        actual = run_task(run)
        if actual != task:
            raise DataError(
                f"Run {run.id} was trained for {TASKS[actual].title.lower() if actual in TASKS else actual}, not {TASKS[task].title.lower()}. "
                f"Choose a {TASKS[task].title.lower()} run, or use {ENDPOINTS.get(actual, '/predict_file')} (the matching view of this tab) for this one."
            )
        return run

    def predictor_for(run):
        from ..inference import load_predictor  # noqa: PLC0415 - loads torch

        return load_predictor(str(run.path), runs_dir=ctx.runs_dir)

    # ------------------------------------------------------------------ text classification

    @ui_errors
    def predict(run_id, text, request: gr.Request, profile: gr.OAuthProfile | None, oauth_token: gr.OAuthToken | None):
        """A text classifier on one text: the probability of each label, and the prediction record."""
        run = run_for(run_id, CLASSIFICATION, text, what="a text to classify", identity=(request, profile, oauth_token))
        record = predictor_for(run).records([text])[0]
        return record["probabilities"], record

    # The button and Enter are one event, so a text sent while the one before is answered waits for that answer and
    # goes next (`always_last`): as two events both were answered at once, in either order, and the older answer could
    # show last beside the newer text. After an error the earlier answer is cleared: left showing, it would read as the
    # answer to the new input.
    gr.on(
        [classify_button.click, text.submit], predict, [run_picker, text], [probabilities, output],
        api_name="predict", concurrency_limit=2, concurrency_id="inference", trigger_mode="always_last",
    ).failure(**shown_in_browser([probabilities, output], (None, None)))

    # ------------------------------------------------------------------ named-entity recognition

    @ui_errors
    def predict_entities(run_id, text, request: gr.Request, profile: gr.OAuthProfile | None, oauth_token: gr.OAuthToken | None):
        """A named-entity recognition model on one text: the text with its entities highlighted (type as label), and the entity list."""
        run = run_for(run_id, NER, text, what="a sentence to tag", identity=(request, profile, oauth_token))
        (result,) = predictor_for(run).predict([text])
        entities = result["entities"]
        value = {"text": text, "entities": [{"entity": e["type"], "start": e["start"], "end": e["end"]} for e in entities]}
        table = pd.DataFrame([{"entity": e["text"], "type": e["type"], "score": round(e["score"], 4), "start": e["start"], "end": e["end"]} for e in entities], columns=["entity", "type", "score", "start", "end"])
        return value, table

    no_entities = pd.DataFrame(columns=["entity", "type", "score", "start", "end"])
    gr.on(  # one event for the button and Enter, as classification's
        [ner_button.click, ner_text.submit], predict_entities, [run_picker, ner_text], [highlighted, entity_table],
        api_name="predict_entities", concurrency_limit=2, concurrency_id="inference", trigger_mode="always_last",
    ).failure(**shown_in_browser([highlighted, entity_table], (None, no_entities)))

    # ------------------------------------------------------------------ causal LM: chat

    @ui_errors
    def generate(run_id, message, history, temperature, top_p, max_new_tokens, request: gr.Request, profile: gr.OAuthProfile | None, oauth_token: gr.OAuthToken | None):
        """Chat with an instruction-tuned causal LM: streams the conversation, the answer growing as tokens are generated."""
        run = run_for(run_id, CAUSAL_LM, message, what="a message", identity=(request, profile, oauth_token))
        temperature, top_p, max_new_tokens = _generation_options(temperature, top_p, max_new_tokens)
        earlier = plain_messages(history)
        if len(earlier) > MAX_HISTORY_MESSAGES:
            raise DataError(f"The conversation has {len(earlier)} messages; clear it to start a new one (at most {MAX_HISTORY_MESSAGES}).")
        predictor = predictor_for(run)
        conversation = [*(_shown(m) for m in earlier), _shown({"role": "user", "content": message})]
        yield conversation, ""  # the message joins the conversation: the box is cleared, once
        # Later updates leave the box alone: the user may be typing the next message while the answer streams (sent,
        # it goes once this answer is done, with the box as it is then). Set to "" at each piece, it was wiped.
        answer = ""
        for answer in predictor.stream([*earlier, {"role": "user", "content": message}], max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p):
            if answer:
                yield [*conversation, _shown({"role": "assistant", "content": answer})], gr.skip()
        if not answer:
            yield [*conversation, _shown({"role": "assistant", "content": NO_ANSWER})], gr.skip()

    chat_inputs = [run_picker, message, chatbot, temperature, top_p, max_new_tokens]
    # Send and Enter are one event: a message sent while an answer streams goes once that answer is done, with it in the
    # conversation (as two events, both answers streamed at once into one chat, each over the other's conversation).
    chat_event = gr.on(
        [send_button.click, message.submit], generate, chat_inputs, [chatbot, message],
        api_name="generate", concurrency_limit=2, concurrency_id="inference", show_progress="minimal", trigger_mode="always_last",
    )
    # The conversation and the typed message stay; this answer to the failure marks them done, so the page shows the
    # error's message alone, as the other views' (which clear their answer) do, not a red 'Error' badge on the chat too.
    chat_event.failure(lambda: (gr.skip(), gr.skip()), None, [chatbot, message], api_visibility="private", queue=False)
    stop_chat_button.click(None, None, None, cancels=[chat_event], api_visibility="private")
    clear_button.click(lambda: ([], ""), None, [chatbot, message], api_name="clear_conversation", api_visibility="private", cancels=[chat_event])

    # ------------------------------------------------------------------ seq2seq: summary

    @ui_errors
    def summarize(run_id, document, max_new_tokens, num_beams, request: gr.Request, profile: gr.OAuthProfile | None, oauth_token: gr.OAuthToken | None):
        """A summarization (seq2seq) model on one document: the generated summary."""
        run = run_for(run_id, SEQ2SEQ, document, what="a document to summarize", identity=(request, profile, oauth_token))
        max_new_tokens, num_beams = _whole(max_new_tokens, "max_new_tokens", *SUMMARY_NEW_TOKENS), _whole(num_beams, "num_beams", BEAMS[0], BEAMS[1])
        (generated,) = predictor_for(run).generate([document], max_new_tokens=max_new_tokens, num_beams=num_beams)
        return generated

    summarize_button.click(summarize, [run_picker, document, summary_new_tokens, num_beams], summary, api_name="summarize", concurrency_limit=2, concurrency_id="inference").failure(**shown_in_browser([summary], ("",)))

    # ------------------------------------------------------------------ a whole file

    @ui_errors
    def predict_file(run_id, file, text_column, request: gr.Request, profile: gr.OAuthProfile | None, oauth_token: gr.OAuthToken | None):
        """The run's model on every row of an uploaded file; returns the first rows and a CSV to download."""
        from ..inference import predict_file as predict_rows, write_predictions  # noqa: PLC0415 - loads torch

        run = ownership.owned_run(ctx, run_id, request, profile, oauth_token, missing="Choose a completed run first.")
        if not file:
            raise DataError("Upload a file with a text column (CSV, TSV, JSON, JSONL or Parquet).")
        predictor = predictor_for(run)
        frame = predict_rows(predictor, file, text_column=(text_column or "").strip() or None, run=run)
        out = Path(tempfile.mkdtemp(prefix="finetuner-batch-")) / f"predictions_{Path(file).stem}.csv"
        write_predictions(frame, out)
        preview = tables.prediction_preview(frame, 100)
        return gr.Dataframe(value=preview, column_widths=tables.preview_widths(list(preview.columns)) if len(preview.columns) else None), str(out)

    batch_button.click(predict_file, [run_picker, batch_file, text_column], [batch_preview, batch_download], api_name="predict_file", concurrency_limit=1, concurrency_id="heavy").failure(**shown_in_browser([batch_preview, batch_download], (None, None)))

    # ------------------------------------------------------------------ the view follows the run

    def test_examples(run, task: str) -> list[str]:
        """Inputs from the run's evaluated test (or validation) split, in the task's input column."""
        column = EVAL_INPUT_COLUMN.get(task, "text")
        for name in ("predictions_test.csv", "generations_test.csv", "predictions_validation.csv", "generations_validation.csv"):
            path = run.eval_dir / name
            if not path.is_file():
                continue
            try:
                frame = pd.read_csv(path, keep_default_na=False, nrows=200)
            except Exception:  # noqa: BLE001 - examples are a convenience
                return []
            if column in frame:
                return list(dict.fromkeys(str(t) for t in frame[column] if str(t).strip()))[:20]
        return []

    def show_run(run_id, request: gr.Request, profile: gr.OAuthProfile | None, oauth_token: gr.OAuthToken | None):
        """Show the chosen run's view: its task's input and output widgets, examples and file options."""
        run, task = None, CLASSIFICATION
        if run_id:
            try:
                run = ownership.owned_run(ctx, run_id, request, profile, oauth_token)
                task = run_task(run)
            except Exception:  # noqa: BLE001 - an unknown id keeps the default view; the buttons say what is wrong
                run = None
        task = task if task in VIEW_ORDER else CLASSIFICATION
        title = TASKS[task].title if task in TASKS else task
        note = f"**{run.id}** · {title}. {VIEW_NOTES[task]}" if run else VIEW_NOTES[task]
        new_tokens = _run_max_new_tokens(run)
        noun = EVAL_INPUT_COLUMN[task]  # text, prompt or document
        own = test_examples(run, task) if run else []
        # The view's clickable examples are the run's own test inputs: the fixed ones (movie reviews for any
        # classifier) offered a banking model reviews to classify. Without any, the fixed ones.
        samples, label = ([[t] for t in own[:EXAMPLES_SHOWN]], "Examples from the run's test split") if own else ([[t] for t in FIXED_EXAMPLES[task]], EXAMPLE_LABELS[task])
        shown = gr.Dataset(components=[inputs_by_task[task]], samples=samples, label=label)  # the components, to read the samples
        return (
            note,
            *(gr.Column(visible=name == task) for name in VIEW_ORDER),
            gr.Dropdown(choices=own, value=None, label=f"Or a {noun} from the run's test split"),
            *(shown if name == task else gr.skip() for name in VIEW_ORDER),
            gr.Accordion(label=BATCH[task][0]),
            gr.Button(value=BATCH[task][1]),
            gr.Textbox(label=f"{noun.capitalize()} column", info=batch_column_help(task, trained_text_columns(run) if run else None)),
            [],  # a new model: a new conversation
            gr.Slider(value=new_tokens) if task == CAUSAL_LM else gr.skip(),
            gr.Slider(value=new_tokens) if task == SEQ2SEQ else gr.skip(),
        )

    run_outputs = [view_note, *views, run_examples, *(examples[name].dataset for name in VIEW_ORDER), batch_accordion, batch_button, text_column, chatbot, max_new_tokens, summary_new_tokens]

    def use_test_example(run_id, chosen, request: gr.Request, profile: gr.OAuthProfile | None, oauth_token: gr.OAuthToken | None):
        """Copy the picked example into the input box of the run's task."""
        if not chosen:
            return [gr.skip()] * len(VIEW_ORDER)
        try:
            task = run_task(ownership.owned_run(ctx, run_id, request, profile, oauth_token)) if run_id else CLASSIFICATION
        except Exception:  # noqa: BLE001
            task = CLASSIFICATION
        return [chosen if name == task else gr.skip() for name in VIEW_ORDER]

    def refresh(current_run, chosen, request: gr.Request, profile: gr.OAuthProfile | None, oauth_token: gr.OAuthToken | None):
        """Completed runs (on a shared studio: this visitor's own)."""
        choices = ownership.run_choices(ctx, ownership.quiet_visitor(ctx, request, profile, oauth_token), completed_only=True)
        ids = [value for _, value in choices]
        value = chosen if chosen in ids else (current_run if current_run in ids else (ids[0] if ids else None))
        return gr.Dropdown(choices=choices, value=value)

    tab.select(refresh, [ctx.current_run, run_picker], run_picker, api_name="refresh_inference_runs", api_visibility="private")
    refresh_button.click(refresh, [ctx.current_run, run_picker], run_picker, api_name="refresh_inference_runs_button", api_visibility="undocumented")
    run_picker.change(show_run, run_picker, run_outputs, api_name="show_inference_run", api_visibility="private")
    run_examples.input(inputs=[run_picker, run_examples], **picked(run_examples, use_test_example, [inputs_by_task[name] for name in VIEW_ORDER], position=1), api_name="use_test_example", api_visibility="private", trigger_mode="always_last")


def run_task(run) -> str:
    """The task a run was trained for, from its frozen config."""
    return run.config().model.task


def _run_max_new_tokens(run) -> int:
    """The run's generation length (`generation_max_new_tokens`), as the sliders' starting value."""
    try:
        return int(run.config().model.generation_max_new_tokens) if run is not None else DEFAULT_MAX_NEW_TOKENS
    except Exception:  # noqa: BLE001
        return DEFAULT_MAX_NEW_TOKENS


def _whole(value, name: str, low: int, high: int) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DataError(f"{name} must be a whole number between {low} and {high}.") from None
    if not number.is_integer() or not low <= number <= high:
        raise DataError(f"{name} must be a whole number between {low} and {high}, got {value}.")
    return int(number)


def _generation_options(temperature, top_p, max_new_tokens) -> tuple[float, float, int]:
    """Checked sampling options (the sliders' ranges; API callers may send anything)."""
    try:
        temperature, top_p = float(temperature), float(top_p)
    except (TypeError, ValueError):
        raise DataError("temperature and top_p must be numbers.") from None
    if not TEMPERATURE[0] <= temperature <= TEMPERATURE[1]:
        raise DataError(f"temperature must be between {TEMPERATURE[0]:g} and {TEMPERATURE[1]:g}, got {temperature:g}.")
    if not 0 < top_p <= 1:
        raise DataError(f"top_p must be above 0 and at most 1, got {top_p:g}.")
    return temperature, top_p, _whole(max_new_tokens, "max_new_tokens", *MAX_NEW_TOKENS)


def _text_of(content) -> str:
    """The text of a chat message's content: a string, or the text parts of a list of parts (gr.Chatbot's form)."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return content.get("text") or "" if content.get("type", "text") == "text" else ""
    if isinstance(content, (list, tuple)):
        return "\n".join(t for t in (_text_of(part) for part in content) if t)
    return ""


def plain_messages(history) -> list[dict[str, str]]:
    """The chat view's conversation as {"role", "content"} messages with text content (what chat templates take).
    An answer shown as `NO_ANSWER` goes back as the empty answer the model gave, so the turns still alternate."""
    messages = []
    for item in history or []:
        role = (item or {}).get("role") if isinstance(item, dict) else None
        if role not in ("user", "assistant", "system"):
            continue
        content = _text_of(item.get("content"))
        if role == "assistant" and content == NO_ANSWER:
            messages.append({"role": role, "content": ""})
        elif content:
            messages.append({"role": role, "content": content})
    return messages


def _shown(message: dict[str, str]) -> dict:
    """A message for gr.Chatbot, its text kept exactly (a plain string would be dedented)."""
    return {"role": message["role"], "content": [{"type": "text", "text": message["content"]}]}
