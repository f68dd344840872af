"""Training tab: the options a user changes, an estimate before launch, and the live run.

Endpoints: `/choose_task` (the task's defaults and which of its own options show), `/lora_parameters`
(the trainable-parameter count with LoRA), `/launch_command` (the command Start runs for N processes),
`/training_plan` (the optimizer steps the options take on the loaded data), `/estimate_training`, `/start_training`, `/follow_run` (streams progress until the run ends),
`/stop_training`, `/resume_training`, `/retry_smaller_batch`, `/select_run`, `/cli_command`, `/download_config`.
Every form field is an API parameter of the same name as the config field it sets.
The page holds only the id of the run it follows; the progress is read from the run folder, so a
reload, a second tab or an app restart shows the same run, and closing the tab never stops training.
"""

import asyncio
import functools
import inspect
import json
import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence

import gradio as gr

from .. import launcher, plots
from ..config import EVAL_STRATEGIES, SAMPLING_STRATEGIES, SCHEDULERS, RunConfig, field_help
from ..errors import FinetunerError
from ..estimate import describe_plan, few_steps_warning, language_warning, packing_options, prefix_warning, rotary_warning, trained_sequences
from ..follow import RunFollower
from ..runs import ACTIVE_STATES, RESUMABLE_STATES, check_run_name
from ..tasks import OPTION_FEATURES, TASKS, curve_metrics, get_task, task_uses
from ..train import check_options, training_in_progress
from . import ownership, render, services
from .handlers import picked, ui_errors
from .studio import StudioContext

POLL_SECONDS = 1.0
# One-line explanations where the config's own help is longer than a form needs.
INFO = {
    "model_name_or_path": "A Hub model id (e.g. bert-base-uncased) or a local folder. The bundled model works offline.",
    "eval_strategy": "When to score the validation split: every epoch, every N steps, or never.",
    "early_stopping_patience": "Stop after this many evaluations without improvement; 0 = never stop early.",
    "eval_steps": "With 'Evaluate: steps', evaluate every this many steps (0 = unset).",
    "metric_for_best_model": "The checkpoint with the best value of this metric is kept as the final model (classification: f1_macro).",
    "max_train_samples": "Train on at most this many examples (0 = all): a quick trial on big data.",
    "max_seq_length": "Longest input in tokens; longer texts are cut (see the Data tab's inspector).",
}


def task_choices() -> list[tuple[str, str]]:
    return [(info.title, name) for name, info in TASKS.items()]


def metric_choices(task: str) -> list[str]:
    return [services.DEFAULT_METRIC, *TASKS[task].metrics]


def _number(name: str, label: str, defaults: dict, *, precision: int | None = None, **kwargs) -> gr.Number:
    return gr.Number(value=defaults[name], label=label, info=INFO.get(name) or field_help(name), precision=precision, **kwargs)


# The chosen task's own options, each shown only for the tasks that use it.
TASK_OPTIONS = OPTION_FEATURES


# Fields whose default depends on the task: they start empty, so that an API call leaving them out gets
# its task's own default, and the page fills in the first task's values when it opens.
TASK_DEFAULT_FIELDS = ("learning_rate", "per_device_train_batch_size", "max_seq_length")
# The key of the browser-kept form that says the epochs are the user's own (see `suggest_epochs`).
EPOCHS_CHOSEN = "num_train_epochs_chosen"
# Fields that start empty for the same reason: the task defaults above, and an own option whose default is the task's.
STARTS_EMPTY = (*TASK_DEFAULT_FIELDS, "head_learning_rate")


def visible_options(task: str, lora_on: bool = False) -> dict[str, bool]:
    """Which of the task's own options show: those it uses, LoRA's target modules only with LoRA on."""
    lora_on = bool(lora_on) and task_uses(task, "use_lora")
    return {option: lora_on if option == "lora_target_modules" else task_uses(task, option) for option in TASK_OPTIONS}


def task_panel(task: str, lora_on: bool = False) -> tuple[dict[str, bool], tuple]:
    """`visible_options`, then the updates of the options panel, its title, and LoRA's row of numbers and
    its two notes (shown with LoRA on). Handlers only: built inside a layout, these would be new components."""
    visible = visible_options(task, lora_on)
    lora_on = visible["lora_target_modules"]
    panel = (gr.Column(visible=any(visible.values())), f"#### Options of {TASKS[task].title.lower()}", gr.Row(visible=lora_on), gr.Markdown(visible=lora_on), gr.Markdown(visible=lora_on))
    return visible, panel


# The Train tab's estimate, checked in the browser against the changes of the options and data made while it ran
# (`build_training_tab`). Global to the page: one studio a page, and its count starts again with the page.
ESTIMATE_OUTDATED = "() => { globalThis.finetunerChanges = (globalThis.finetunerChanges || 0) + 1; return ''; }"
ESTIMATE_PRESSED = "(...values) => { globalThis.finetunerEstimateAt = globalThis.finetunerChanges || 0; return values; }"
ESTIMATE_CHANGED = "The options or the data changed while this estimate was being made: press Estimate time and memory again."
ESTIMATE_SHOWN = f"(made) => globalThis.finetunerEstimateAt === (globalThis.finetunerChanges || 0) ? made : {json.dumps(ESTIMATE_CHANGED)}"


def form_handler(names: Sequence[str]) -> Callable:
    """Make `fn(values, *rest)` a handler whose parameters are the form's fields by name (the API shows each
    under its config name), then `fn`'s own parameters after `values` (Gradio fills annotated ones)."""

    def decorate(fn: Callable) -> Callable:
        # Every parameter defaults to None, so that a field starting empty (TASK_DEFAULT_FIELDS) is optional in the API.
        rest = [p.replace(default=None) if p.default is inspect.Parameter.empty else p for p in list(inspect.signature(fn).parameters.values())[1:]]
        signature = inspect.Signature([inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None) for n in names] + rest)

        @functools.wraps(fn)
        def handler(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            return fn({n: bound.arguments[n] for n in names}, *(bound.arguments[p.name] for p in rest))

        del handler.__wrapped__  # the signature below is the one to show, not fn's
        handler.__signature__ = signature
        handler.__annotations__ = {p.name: p.annotation for p in rest if p.annotation is not inspect.Parameter.empty}
        return handler

    return decorate


def build_training_tab(ctx: StudioContext) -> None:
    d = services.defaults()
    blank = {**d, **dict.fromkeys(STARTS_EMPTY)}
    shown = visible_options(d["task"])  # not task_panel: inside gr.Tabs its gr.Column became a second Train tab button
    offered = services.processes_offered()
    with gr.Tab("2 · Train", id="train") as tab:
        refollow = gr.State(None)  # the run a refused Start's page follows again (made in the tab: one outside it took the next tab's place)
        estimates_made = gr.State(0)  # the session's estimates made so far: a change asks for the plan again (`build_training_tab`)
        data_note = gr.Markdown()
        with gr.Row(equal_height=False):
            with gr.Column(scale=5, min_width=380):
                gr.Markdown("### Model and options")
                model = gr.Dropdown(services.model_choices(ctx.runs_dir), value=d["model_name_or_path"], label="Model", allow_custom_value=True, info=INFO["model_name_or_path"])
                task = gr.Dropdown(task_choices(), value=d["task"], label="Task", info=field_help("task"))
                with gr.Row():
                    learning_rate = _number("learning_rate", "Learning rate", blank)
                    num_train_epochs = _number("num_train_epochs", "Epochs", d)
                with gr.Row():
                    per_device_train_batch_size = _number("per_device_train_batch_size", "Batch size", blank, precision=0)
                    gradient_accumulation_steps = _number("gradient_accumulation_steps", "Gradient accumulation", d, precision=0)
                with gr.Row():
                    max_seq_length = _number("max_seq_length", "Max length (tokens)", blank, precision=0)
                    weight_decay = _number("weight_decay", "Weight decay", d)
                with gr.Row():
                    warmup_steps = _number("warmup_steps", "Warm-up", d)
                    lr_scheduler_type = gr.Dropdown(list(SCHEDULERS), value=d["lr_scheduler_type"], label="Learning-rate schedule", info=field_help("lr_scheduler_type"))
                with gr.Row():
                    eval_strategy = gr.Radio(list(EVAL_STRATEGIES), value=d["eval_strategy"], label="Evaluate", info=INFO["eval_strategy"])
                    early_stopping_patience = gr.Number(value=0, label="Early stopping patience", precision=0, info=INFO["early_stopping_patience"])
                with gr.Row():
                    seed = _number("seed", "Seed", d, precision=0)
                    freeze_embeddings = gr.Checkbox(value=d["freeze_embeddings"], label="Freeze word embeddings", info=field_help("freeze_embeddings"))
                with gr.Column(visible=any(shown.values()), variant="panel") as task_options:  # the chosen task's own options
                    task_options_title = gr.Markdown(f"#### Options of {TASKS[d['task']].title.lower()}")
                    head_learning_rate = _number("head_learning_rate", "Learning rate of the new head", blank, visible=shown["head_learning_rate"])
                    label_all_tokens = gr.Checkbox(value=d["label_all_tokens"], label="Label every sub-word token", info=field_help("label_all_tokens"), visible=False)
                    use_lora = gr.Checkbox(value=d["use_lora"], label="LoRA adapters (parameter-efficient fine-tuning)", info=field_help("use_lora"), visible=False)
                    with gr.Row(visible=False) as lora_row:
                        lora_r = _number("lora_r", "LoRA rank (r)", d, precision=0)
                        lora_alpha = _number("lora_alpha", "LoRA alpha", d, precision=0)
                        lora_dropout = _number("lora_dropout", "LoRA dropout", d)
                    lora_target_modules = gr.Dropdown(
                        [], value=[], multiselect=True, allow_custom_value=True, label="LoRA target modules", visible=False,
                        info="The layers that get adapters (the model's linear layers are offered). Empty: every linear layer except the output head.",
                    )
                    lora_summary = gr.Markdown(visible=False)
                    lora_export = gr.Markdown(
                        "On export `model/` holds the adapters merged into the base weights (it loads as a plain model) and "
                        "`adapter/` the adapter alone; the Hub tab pushes either.", visible=False,
                    )
                    with gr.Row():
                        packing = gr.Checkbox(value=d["packing"], label="Packing", info=field_help("packing"), visible=False)
                        completion_only_loss = gr.Checkbox(value=d["completion_only_loss"], label="Loss on the completion only", info=field_help("completion_only_loss"), visible=False)
                    with gr.Row():
                        generation_max_new_tokens = _number("generation_max_new_tokens", "Generated tokens at most", d, precision=0, visible=False)
                        generation_num_samples = _number("generation_num_samples", "Examples generated when evaluating", d, precision=0, visible=False)
                    with gr.Row():
                        max_target_length = _number("max_target_length", "Max summary length (tokens)", d, precision=0, visible=False)
                        source_prefix = gr.Textbox(value=d["source_prefix"], label="Source prefix", info=field_help("source_prefix"), visible=False)
                    with gr.Row():  # multilingual models only (mBART, mBART-50, NLLB): a code another tokenizer lacks is refused
                        source_lang = gr.Textbox(value=d["source_lang"] or "", label="Source language code", placeholder="en_XX, eng_Latn", info=field_help("source_lang"), visible=False)
                        target_lang = gr.Textbox(value=d["target_lang"] or "", label="Target language code", placeholder="ro_RO, fra_Latn", info=field_help("target_lang"), visible=False)
                        forced_bos_token = gr.Textbox(value=d["forced_bos_token"] or "", label="Forced first token", info=field_help("forced_bos_token"), visible=False)
                with gr.Group():
                    processes = gr.Number(value=1, label=f"Training processes (up to {offered['maximum']})", step=1, info=offered["note"])  # no precision: 1.5 is refused, not rounded
                    launch_box = gr.Code(
                        value=services.launch_preview(services.shown_runs_dir(ctx.runs_dir), "", 1), label="Start runs this command", language="shell",
                        lines=1, interactive=False, wrap_lines=True, elem_classes="ft-cli",
                    )
                with gr.Accordion("Advanced options", open=False):
                    with gr.Row():
                        eval_steps = gr.Number(value=0, label="Evaluate every N steps", precision=0, info=INFO["eval_steps"])
                        max_steps = _number("max_steps", "Max steps", d, precision=0)
                    with gr.Row():
                        logging_steps = _number("logging_steps", "Log every N steps", d, precision=0)
                        per_device_eval_batch_size = _number("per_device_eval_batch_size", "Eval batch size", d, precision=0)
                    with gr.Row():
                        metric_for_best_model = gr.Dropdown(metric_choices(d["task"]), value=services.DEFAULT_METRIC, label="Metric for the best checkpoint", allow_custom_value=True, info=INFO["metric_for_best_model"])
                        save_total_limit = _number("save_total_limit", "Checkpoints kept", d, precision=0)
                    train_sampling_strategy = gr.Radio(list(SAMPLING_STRATEGIES), value=d["train_sampling_strategy"], label="Batch order", info=field_help("train_sampling_strategy"))
                    with gr.Row():
                        validation_split_ratio = _number("validation_split_ratio", "Validation share", d)
                        test_split_ratio = _number("test_split_ratio", "Test share", d)
                        max_train_samples = gr.Number(value=0, label="Max training examples", precision=0, info=INFO["max_train_samples"])
                    extra_training_args = gr.Code(value="", language="yaml", label="Extra TrainingArguments (YAML)", lines=3, interactive=True)
                    gr.Markdown("Any `transformers.TrainingArguments` option, e.g. `bf16: true` or `optim: adafactor`.")
                    run_name = gr.Textbox(value="", label="Run name (optional)", placeholder="auto: date-model-xxxx", info="Letters, digits, '.', '_' and '-'.")
                with gr.Accordion("Reproduce without the browser", open=False):
                    gr.Markdown("The same training from a terminal: the command, or the config file for `python -m finetuner train config.yaml`.")
                    with gr.Row():
                        cli_button = gr.Button("Copy as CLI command", size="sm")
                        config_button = gr.Button("Download config", size="sm")
                    cli_box = gr.Code(label="CLI command", language="shell", lines=3, interactive=False, wrap_lines=True, elem_classes="ft-cli")
                    config_file = gr.File(label="config.yaml", interactive=False)
            with gr.Column(scale=6, min_width=420):
                with gr.Row():
                    estimate_button = gr.Button("Estimate time and memory")
                    start_button = gr.Button("Start training", variant="primary")
                plan_box = gr.Markdown()
                estimate_box = gr.Markdown()
                estimate_made = gr.Markdown(visible=False)  # the estimate's answer, shown in estimate_box once checked current
                gr.Markdown("### Live run")
                with gr.Row(equal_height=True):
                    run_picker = gr.Dropdown(ownership.initial_choices(ctx), value=None, label="Run", info="The run this page follows. Pick any earlier run to see its curves.", scale=4, allow_custom_value=True)
                    refresh_button = gr.Button("↻ Refresh", size="sm", scale=0, min_width=90)
                    reuse_button = gr.Button("Use its settings", size="sm", scale=0, min_width=130)
                progress = gr.HTML(render.progress_card(None), label="Progress")
                with gr.Row():
                    stop_button = gr.Button("Stop", variant="stop", interactive=False)
                    resume_button = gr.Button("Resume", interactive=False)
                    retry_button = gr.Button("Retry with a smaller batch", interactive=False, visible=False)
                notice = gr.Markdown(label="Message")
                curves_plot = gr.Plot(label="Training curves")
                log_box = gr.Textbox(value="", label="Log", lines=10, max_lines=10, autoscroll=True, interactive=False, elem_classes="ft-log")
                snapshot = gr.JSON(label="Progress snapshot", visible=False)

    form = {
        "model_name_or_path": model, "task": task, "learning_rate": learning_rate, "weight_decay": weight_decay,
        "per_device_train_batch_size": per_device_train_batch_size, "num_train_epochs": num_train_epochs,
        "warmup_steps": warmup_steps, "lr_scheduler_type": lr_scheduler_type, "max_seq_length": max_seq_length,
        "gradient_accumulation_steps": gradient_accumulation_steps, "seed": seed, "freeze_embeddings": freeze_embeddings, "eval_strategy": eval_strategy,
        "early_stopping_patience": early_stopping_patience, "eval_steps": eval_steps, "max_steps": max_steps,
        "logging_steps": logging_steps, "per_device_eval_batch_size": per_device_eval_batch_size,
        "save_total_limit": save_total_limit, "metric_for_best_model": metric_for_best_model,
        "train_sampling_strategy": train_sampling_strategy, "validation_split_ratio": validation_split_ratio,
        "test_split_ratio": test_split_ratio, "max_train_samples": max_train_samples, "extra_training_args": extra_training_args,
        # the task's own options (hidden for tasks without them; then they keep their defaults)
        "head_learning_rate": head_learning_rate, "label_all_tokens": label_all_tokens, "use_lora": use_lora, "lora_r": lora_r, "lora_alpha": lora_alpha, "lora_dropout": lora_dropout,
        "lora_target_modules": lora_target_modules, "packing": packing, "completion_only_loss": completion_only_loss,
        "generation_max_new_tokens": generation_max_new_tokens, "generation_num_samples": generation_num_samples,
        "max_target_length": max_target_length, "source_prefix": source_prefix,
        "source_lang": source_lang, "target_lang": target_lang, "forced_bos_token": forced_bos_token,
    }
    form_inputs = list(form.values())
    option_boxes = {name: form[name] for name in TASK_OPTIONS}
    ctx.components.update(train_model=model, run_picker=run_picker)

    def config_from(values: dict, selection: dict, owner: str | None = None) -> RunConfig:
        # On a shared studio: uploads and Hub ids only, and the owner's own runs as base models.
        return services.build_config(selection or services.default_selection(), values, runs_dir=ctx.runs_dir, owner=owner)

    def data_selection(config: RunConfig) -> dict:
        return {**{k: v for k, v in config.data.__dict__.items() if v is not None}, "task": config.model.task}

    def config_token_stats(config: RunConfig, owner: str | None, *, measured_only: bool = False) -> dict[str, dict[str, Any]] | None:
        """The token lengths per split that a run of `config` trains on (cached): its data, model, max_seq_length and
        seed, and the options that change what training measures (a seq2seq document with its prefix and language
        codes, `services.config_tokenization`). On a shared studio the model must be one `owner` may use."""
        return services.token_stats(
            data_selection(config), config.model.model_name_or_path, config.model.max_seq_length, seed=config.training.seed,
            runs_dir=ctx.runs_dir, owner=owner, measured_only=measured_only, **services.config_tokenization(config),
        )

    def check_data(config: RunConfig) -> object:
        """Prepare the data now (cached), so a data problem shows before a process is started."""
        return services.prepared(data_selection(config), seed=config.training.seed)

    def check_tokenization(config: RunConfig, data) -> None:
        """The model's tokenizer (one that cannot load, or is not fast, would fail the run once started) and the data under
        it, as the task checks that (`check_tokenization`: a causal LM's chat template and answers past max_seq_length,
        seq2seq summaries cut to nothing, on a few examples)."""
        tokenizer = services.tokenizer(config.model.model_name_or_path, config.model.task)
        get_task(config.model.task).check_tokenization(data.splits, tokenizer, config)

    def choose_task(name):
        """The chosen task's own defaults (model, max length, learning rate, batch size, the metric that picks
        the best checkpoint) and its own options: each shown only when the task uses it (the new head's
        learning rate for classification and NER; LoRA, packing and completion-only loss for causal LMs;
        sub-token labels for NER; summary length, prefix and languages for seq2seq), reset to its default."""
        own = services.defaults(name)
        visible, (column, title, *lora_parts) = task_panel(name)  # LoRA starts off
        options = [gr.update(visible=visible[option], value=[] if option == "lora_target_modules" else own[option]) for option in TASK_OPTIONS]
        return (
            gr.Dropdown(value=own["model_name_or_path"]), *(gr.Number(value=own[n]) for n in TASK_DEFAULT_FIELDS),
            gr.Dropdown(choices=metric_choices(name), value=services.DEFAULT_METRIC), column, title, *options, *lora_parts,
        )

    # The form's values are kept in the browser, so a reload shows them again: saved on the user's own
    # changes, and after a task switch has set its defaults. They say too whether the epochs are the user's
    # own (typed, or a run's settings): until they are, the loaded data sets them (`suggest_epochs`).
    def save_form(*values):
        *values, saved = values
        return {**dict(zip(form, values)), EPOCHS_CHOSEN: bool(isinstance(saved, dict) and saved.get(EPOCHS_CHOSEN))}

    saving = dict(fn=save_form, inputs=[*form_inputs, ctx.saved_form], outputs=ctx.saved_form, api_visibility="private", show_progress="hidden", trigger_mode="always_last")
    gr.on([component.input for component in form_inputs if component is not num_train_epochs], **saving, api_name="remember_form")
    num_train_epochs.input(
        lambda *values: {**save_form(*values), EPOCHS_CHOSEN: True}, saving["inputs"], ctx.saved_form,
        api_name="remember_chosen_epochs", api_visibility="private", show_progress="hidden", trigger_mode="always_last",
    )

    def suggest_epochs(selection, saved):
        """The loaded data's epochs (the bundled example's 10, so that its plan takes enough steps; else the
        Trainer's 3), until the user chooses their own: those are never replaced."""
        if isinstance(saved, dict) and saved.get(EPOCHS_CHOSEN):
            return gr.skip()
        return services.suggested_epochs(selection)

    ctx.dataset.change(suggest_epochs, [ctx.dataset, ctx.saved_form], num_train_epochs, api_name="suggest_epochs", api_visibility="private", show_progress="hidden")
    # One model and one max length for the run and the Data tab's inspector, so that it shows what this form
    # trains: a value set here in any way (typed, a task's defaults, a run's settings, the form restored on
    # a reload) is copied there, and one typed there is copied here and kept with the form. In the browser,
    # at once; the inspector copies back its user's own edits only (`.input`), so the copies never echo.
    for train_field, inspect_field in zip((model, max_seq_length), ctx.components.get("inspector_fields", ())):
        train_field.change(None, train_field, inspect_field, js="(value) => value")
        inspect_field.input(None, inspect_field, train_field, js="(value) => value").then(**saving)

    task_outputs = [model, *(form[n] for n in TASK_DEFAULT_FIELDS), metric_for_best_model, task_options, task_options_title, *option_boxes.values(), lora_row, lora_summary, lora_export]
    # A choice (here and on every picker of the studio) runs after the one before is answered: by default Gradio
    # dropped one made meanwhile, and the box showed it beside the earlier choice's defaults, report or run.
    # Only a choice runs it (`picked`): a blur sent the box's value again and reset the form to the task's defaults.
    task.input(inputs=task, **picked(task, choose_task, task_outputs), api_name="choose_task", trigger_mode="always_last").then(**saving)
    data_task = ctx.components.get("data_task")
    if data_task is not None:  # one task on both tabs: choosing it on either sets the other
        task.input(None, task, data_task, js="(name) => name")  # in the browser: no answer to wait for, none to drop
        data_task.input(
            inputs=data_task, **picked(data_task, lambda name: (name, *choose_task(name)), [task, *task_outputs]),
            api_name="sync_task_from_data", api_visibility="private", trigger_mode="always_last",
        ).then(**saving)

    def restore_form(saved):
        """On page open: the values this browser had on the form before a reload, with the restored task's own
        options shown. Values that no longer fit the form (an option renamed since) keep the page's defaults."""
        values = services.restorable_form(saved, form)
        if values is None:
            return [gr.skip()] * len(restored_outputs)
        name = values["task"]
        visible, panel = task_panel(name, values.get("use_lora"))
        updates = []
        for field_name in form:
            update = {"value": values[field_name]} if field_name in values else {}
            if field_name in TASK_OPTIONS:
                update["visible"] = visible[field_name]
            if field_name == "metric_for_best_model":
                update["choices"] = metric_choices(name)
            updates.append(gr.update(**update) if update else gr.skip())
        return (*updates, *panel)

    restored_outputs = [*form_inputs, task_options, task_options_title, lora_row, lora_summary, lora_export]

    def show_lora(on, task_name):
        """LoRA's own options appear once LoRA is on."""
        visible, (_, _, row, *notes) = task_panel(task_name, on)
        return row, gr.Dropdown(visible=visible["lora_target_modules"]), *notes

    use_lora.change(show_lora, [use_lora, task], [lora_row, lora_target_modules, lora_summary, lora_export], api_name="show_lora", api_visibility="private")

    @ui_errors
    @ownership.reads_as_visitor
    def lora_parameters(model_name_or_path, task, use_lora, lora_r, lora_alpha, lora_dropout, lora_target_modules, selection, request: gr.Request, profile: gr.OAuthProfile | None, oauth_token: gr.OAuthToken | None, typed_token: str | None = None):
        """With LoRA on: how many parameters train (peft's adapters, counted on the meta device before launch),
        and the model's linear layers as the target-module choices. A problem is said in the text, not raised."""
        if not (use_lora and task_uses(task, "use_lora")):
            return "", gr.skip()
        try:
            values = {"model_name_or_path": model_name_or_path, "task": task, "use_lora": True, "lora_r": lora_r, "lora_alpha": lora_alpha, "lora_dropout": lora_dropout, "lora_target_modules": lora_target_modules}
            config = config_from(values, selection, ownership.quiet_visitor(ctx, request, profile, oauth_token))
            choices = services.lora_target_candidates(config)
            counts = services.lora_parameters(config)
        except FinetunerError as error:
            return "⚠ " + render.md_escape(str(error)), gr.skip()
        return render.lora_summary(counts, config.model.lora_target_modules), gr.Dropdown(choices=choices)

    gr.on(
        [use_lora.change, lora_r.change, lora_target_modules.change, model.change],
        lora_parameters, [model, task, use_lora, lora_r, lora_alpha, lora_dropout, lora_target_modules, ctx.dataset, ctx.hub_token], [lora_summary, lora_target_modules],
        api_name="lora_parameters", trigger_mode="always_last", concurrency_limit=2, show_progress="hidden",
    )

    def launch_command(processes, run_name):
        """The exact command Start runs for this many processes: `python -m finetuner train --run_dir ...`, or
        the same under `torchrun --standalone --nproc_per_node N` for several."""
        try:
            if (run_name or "").strip():
                check_run_name(run_name.strip())  # said here, as it is typed, not only at Start
            return services.launch_preview(services.shown_runs_dir(ctx.runs_dir), run_name, services.check_processes(processes))
        except FinetunerError as error:
            return f"# {error}"

    gr.on([processes.change, run_name.change], launch_command, [processes, run_name], launch_box, api_name="launch_command", show_progress="hidden")

    # ------------------------------------------------------------ estimate and launch

    @ui_errors
    @form_handler(form)
    @ownership.reads_as_visitor
    def estimate_training(values, processes, selection, request: gr.Request, profile: gr.OAuthProfile | None, oauth_token: gr.OAuthToken | None, typed_token: str | None = None):
        """Steps, tokens, time and memory the training would take on this machine, on `processes` processes
        (with LoRA: the adapters' gradients and optimizer state only)."""
        from ..estimate import estimate_training as estimate  # noqa: PLC0415

        owner = ownership.quiet_visitor(ctx, request, profile, oauth_token)
        config = config_from(values, selection, owner)
        processes = services.check_processes(processes)
        counts = services.lora_parameters(config) if config.model.use_lora else None
        services.check_task_fits(selection, config.model.task)
        check_options(config)
        data = check_data(config)
        check_tokenization(config, data)  # what Start would refuse, said here too
        stats = config_token_stats(config, owner)
        train_lengths = trained_lengths(stats["train"], len(data.splits["train"]))  # not the examples training leaves out
        # evaluation leaves them out too (`causal_lm.tokenize` filters every split)
        eval_lengths = trained_lengths(stats["validation"], len(data.splits["validation"])) if "validation" in data.splits and "validation" in stats else []
        trainable = counts["trainable_parameters"] if counts else None
        result = estimate(config, train_lengths=train_lengths, eval_lengths=eval_lengths, runs_dir=ctx.runs_dir, processes=processes, trainable_parameters=trainable)
        extra = render.estimate_setup(processes=processes, device=offered["device"], lora=counts)
        return "#### Estimate\n" + render.estimate_markdown(result.to_dict()) + ("\n" + extra if extra else "")

    @ui_errors
    @form_handler(form)
    @ownership.reads_as_visitor
    def start_training(values, run_name, processes, selection, request: gr.Request, profile: gr.OAuthProfile | None, oauth_token: gr.OAuthToken | None, typed_token: str | None = None):
        """Start a training run with these options on the loaded dataset, on `processes` processes (one per GPU;
        several CPU processes share the cores); returns its run id at once (it queues if another run trains)."""
        # The run's owner: the visitor's Hub account (OAuth, or an API client's token), or the --auth login; none locally.
        owner = ownership.require_visitor(ctx, request, profile, oauth_token)
        config = config_from(values, selection, owner)
        processes = services.check_processes(processes)
        if config.model.use_lora:
            services.lora_parameters(config)  # a target module the model lacks is refused here, not in the training process
        services.check_task_fits(selection, config.model.task)  # before the options: their model check would hide it
        check_options(config)
        check_tokenization(config, check_data(config))
        launcher.check_not_a_repeat(ctx.store, config, owner=owner)
        # Before the launch, or the new run could be the training it finds: one on this machine, or one starting in this folder.
        busy = training_in_progress() or any(r.state in ACTIVE_STATES for r in ctx.store.list())
        # The visitor's token reaches the training process in its environment only, to read what the studio read with it.
        run = launcher.start_training(ctx.store, config, owner=owner, token=ownership.visitor_token(oauth_token, typed_token), run_id=(run_name or "").strip() or None, processes=processes)
        where = f" on {processes} processes" if processes > 1 else ""
        note = f"Started run **{run.id}**{where}." + (" Another run is training or queued on this machine, so this one waits in the queue." if busy else "")
        return run.id, gr.Dropdown(choices=ownership.run_choices(ctx, owner), value=run.id), note

    @form_handler(form)
    @ownership.reads_as_visitor
    def training_plan(values, processes, selection, request: gr.Request, profile: gr.OAuthProfile | None, oauth_token: gr.OAuthToken | None, typed_token: str | None = None):
        """The optimizer steps these options take on the loaded data, updated as they change: the count that
        decides whether a run learns anything, seen before Estimate or Start, with Estimate's warnings that need no
        download (too few steps; a model's summarization prefix or languages left unset; a length past a rotary model's
        positions). Empty while the options or the data have a problem (the Data tab, Estimate and Start say what it is)."""
        owner = ownership.quiet_visitor(ctx, request, profile, oauth_token)
        try:
            config = config_from(values, selection, owner)
            processes = services.check_processes(processes)
            examples = loaded = len(check_data(config).splits["train"])
            sequences = None
            if config.training.packing:  # the packed sequences come from the token lengths
                stats = config_token_stats(config, owner)
                lengths = trained_lengths(stats["train"], loaded)  # causal LM: without the examples whose prompt fills max_seq_length
                examples = len(lengths)
                sequences = len(trained_sequences(lengths, max_length=config.model.max_seq_length, packing=True, **packing_options(config.training.extra_training_args, seed=config.training.seed)))
            else:  # no tokenizer is loaded for it; lengths measured already (the Data tab, Estimate) tell what training leaves out
                stats = config_token_stats(config, owner, measured_only=True)
                if stats and "train" in stats:
                    examples = len(trained_lengths(stats["train"], loaded))
        except FinetunerError:
            return ""
        plan = "**Plan:** " + describe_plan(examples, config.training, processes=processes, sequences=sequences)
        if examples < loaded:
            about = "About " if stats["train"].get("sampled_from") else ""  # counted on a sample of a big split
            plan += f" {about}{loaded - examples:,} of the {loaded:,} examples are left out: their prompt fills max_seq_length {config.model.max_seq_length}, so no token of the answer is left to learn."
        few = few_steps_warning(examples if sequences is None else sequences, config.training, processes=processes)
        # Estimate's warnings that read only the model's config files where they are here (a folder, or the Hub cache's
        # copy), never the network: a T5 without its prefix, a multilingual model without languages, a length past the
        # positions a rotary model was trained on. Milliseconds, so the plan shows them as the options change.
        warnings = [few, *(check(config) for check in (prefix_warning, language_warning, rotary_warning))]
        return plan + "".join(f"\n\n⚠️ {warning}" for warning in warnings if warning)

    # An estimate is of the options and data it was made for: after a change it went on showing the steps, time and
    # memory of another model, task or data (a summarization run's beside an instruction-tuning plan), so it goes.
    # In the browser, at the change: a request to the server could be answered after the estimate pressed next and
    # clear that (the likely reason an estimate pressed right after typing an option never showed in a CI run).
    # An estimate still being made at a change (seconds: the data is prepared and tokenized) is of the options before
    # it: it showed once done, after the clear, beside options it was not made for. The browser counts the changes;
    # the press notes the count its estimate is made at, and the answer, kept hidden, is shown only if the count is
    # the same, or a message to press again (a cancel happened in the browser alone: a test had nothing to wait for).
    # Made before the plan's: the browser runs a change's events one after another, the clear after the plan's answer.
    estimated = estimate_button.click(
        estimate_training, [*form_inputs, processes, ctx.dataset, ctx.hub_token], estimate_made, api_name="estimate_training", concurrency_limit=2,
        js=ESTIMATE_PRESSED, show_progress_on=estimate_box,
    )
    estimated.success(None, estimate_made, estimate_box, js=ESTIMATE_SHOWN, show_progress="hidden")
    # The plan reads token lengths only once measured (packing off), and an estimate measures them: the plan stayed at
    # every loaded example beside an estimate that left some out, until the next option change. An estimate made
    # counts in a state whose change is one more trigger of the plan's own event below (in the queue: Gradio tells the
    # page of a state changed by a queued event), so the plan is asked again with the options of that moment, one plan
    # at a time (trigger_mode), never a late answer with older options after the plan of a change made since.
    estimated.success(
        lambda made: made + 1, estimates_made, estimates_made, api_name="count_estimate", api_visibility="private", show_progress="hidden", concurrency_limit=None,
    )
    gr.on(
        [*(field.change for field in form_inputs), processes.change, ctx.dataset.change], None, None, estimate_box,
        js=ESTIMATE_OUTDATED, api_name="estimate_outdated", api_visibility="private", show_progress="hidden",
    )

    planned = [
        num_train_epochs, per_device_train_batch_size, gradient_accumulation_steps, max_steps, max_train_samples, validation_split_ratio, test_split_ratio, seed, packing,
        max_seq_length, model, task, source_prefix, source_lang, target_lang,  # the last three: the plan's warnings
    ]
    gr.on(
        [*(field.change for field in planned), processes.change, ctx.dataset.change, estimates_made.change], training_plan, [*form_inputs, processes, ctx.dataset, ctx.hub_token], plan_box,
        api_name="training_plan", trigger_mode="always_last", concurrency_limit=2, show_progress="hidden",
    )

    # ------------------------------------------------------------ following the run

    def live_outputs(snap: dict | None, *, state_changed: bool = False, who: str | None = None, ended: bool = False, previous: dict | None = None):
        """The live view of a snapshot. `ended`: the run ended while this page followed it, so a notice about its
        start or its stop is stale and goes. The curves and the log are sent only when they differ from
        the `previous` snapshot's (a snapshot comes every second while a run trains)."""
        if snap is None:
            return None, render.progress_card(None), plots.empty("Curves appear once a run is selected."), "", gr.Button(interactive=False), gr.Button(interactive=False), gr.Button(visible=False), gr.skip(), gr.skip()
        run = ctx.store.get(snap["run_id"])
        note = services.queue_note(ctx.store, run) if snap["state"] == "queued" else None
        retryable = snap["state"] in ("failed", "interrupted") and launcher.can_retry_with_smaller_batch(run)
        # What the buttons offer, in the snapshot too (API clients do not see buttons): /stop_training, /resume_training, /retry_smaller_batch.
        actions = [name for name, offered in (("stop", snap["state"] in ACTIVE_STATES), ("resume", snap["state"] in RESUMABLE_STATES), ("retry_smaller_batch", retryable)) if offered]
        same_curves = previous is not None and (previous["train"], previous["eval"]) == (snap["train"], snap["eval"])
        return (
            {**snap, "actions": actions},
            render.progress_card(snap, queue_note=note),
            gr.skip() if same_curves else plots.training_curves(snap["train"], snap["eval"], metrics=[f"eval_{m}" for m in curve_metrics(snap["task"])]),
            gr.skip() if previous is not None and previous["log"] == snap["log"] else "\n".join(snap["log"]),
            gr.Button(interactive=snap["state"] in ACTIVE_STATES),
            gr.Button(interactive=snap["state"] in RESUMABLE_STATES),
            gr.Button(visible=retryable, interactive=retryable),
            gr.Dropdown(choices=ownership.run_choices(ctx, who), value=run.id) if state_changed else gr.skip(),
            "" if ended else gr.skip(),
        )

    @ui_errors
    async def follow_run(run_id, request: gr.Request, profile: gr.OAuthProfile | None, oauth_token: gr.OAuthToken | None):
        """Stream a run's progress (state, step, ETA, curves, log tail) until it ends. Never stops the run."""
        if not run_id:
            yield live_outputs(None)
            return
        who = await asyncio.to_thread(ownership.visitor, ctx, request, profile, oauth_token)
        follower = RunFollower(ownership.owned_run(ctx, run_id, who=who), heartbeat=POLL_SECONDS)  # its clock moves between steps
        last = None
        while True:
            snap = follower.poll()
            if snap is not None:
                state_changed = last is None or snap["state"] != last["state"]
                yield live_outputs(snap, state_changed=state_changed, who=who, ended=snap["done"] and last is not None and not last["done"], previous=last)
                last = snap
                if snap["done"]:
                    return
            await asyncio.sleep(POLL_SECONDS)

    live = [snapshot, progress, curves_plot, log_box, stop_button, resume_button, retry_button, run_picker, notice]
    # The followed run is remembered in the browser, so a reload follows it again.
    ctx.current_run.change(lambda run_id: run_id or gr.skip(), ctx.current_run, ctx.saved_run, api_name="remember_run", api_visibility="private")
    follow_event = ctx.current_run.change(follow_run, ctx.current_run, live, api_name="follow_run", concurrency_limit=None, show_progress="hidden")

    started = start_button.click(
        start_training, [*form_inputs, run_name, processes, ctx.dataset, ctx.hub_token], [ctx.current_run, run_picker, notice],
        api_name="start_training", concurrency_limit=1, concurrency_id="launch", cancels=[follow_event],
    )
    # A refused Start (an option out of range, the same settings again) cancelled the page's follow of its run all the
    # same, and its progress card stood still while the run trained on: the run is followed again (its id set anew).
    started.failure(lambda run_id: (None, run_id), ctx.current_run, [ctx.current_run, refollow], api_visibility="private", show_progress="hidden").then(
        lambda run_id: run_id, refollow, ctx.current_run, api_visibility="private", show_progress="hidden",
    )

    @ui_errors
    def select_run(run_id, request: gr.Request, profile: gr.OAuthProfile | None, oauth_token: gr.OAuthToken | None):
        """Follow another run on this page."""
        run = ownership.owned_run(ctx, run_id, request, profile, oauth_token)
        return run.id, ""

    run_picker.input(select_run, run_picker, [ctx.current_run, notice], api_name="select_run", cancels=[follow_event], trigger_mode="always_last")

    @ui_errors
    def stop_training(run_id, request: gr.Request, profile: gr.OAuthProfile | None, oauth_token: gr.OAuthToken | None):
        """Ask a run to stop; the notice says what that does in its phase (`launcher.stop_notice`)."""
        run = ownership.owned_run(ctx, run_id, request, profile, oauth_token)
        phase = run.raw_status().get("phase")
        state = launcher.stop_training(run)
        if state == "stopped":
            return f"Run **{run.id}** stopped before it started training."
        return f"Stop requested for run **{run.id}**: {launcher.stop_notice(phase)}"

    # Its own unlimited group: a stop only writes a file or sends a signal, and must not wait behind a start preparing data.
    stop_button.click(stop_training, ctx.current_run, notice, api_name="stop_training", concurrency_limit=None)

    def relaunch(run, launch, note: str):
        """Start `run` again with `launch`, re-arming the follower: the id goes empty, then back to the run."""
        yield "", gr.skip()
        try:
            launch(run)
        except Exception:
            yield run.id, gr.skip()
            raise
        yield run.id, note

    @ui_errors
    def resume_training(run_id, request: gr.Request, profile: gr.OAuthProfile | None, oauth_token: gr.OAuthToken | None, typed_token: str | None = None):
        """Continue a stopped, interrupted or failed run from its last checkpoint; returns its id."""
        run = ownership.owned_run(ctx, run_id, request, profile, oauth_token)
        yield from relaunch(run, functools.partial(launcher.resume_training, token=ownership.visitor_token(oauth_token, typed_token)), f"Resumed run **{run.id}** from its last checkpoint.")

    resume_button.click(resume_training, [ctx.current_run, ctx.hub_token], [ctx.current_run, notice], api_name="resume_training", concurrency_id="launch", cancels=[follow_event])

    @ui_errors
    def retry_smaller_batch(run_id, request: gr.Request, profile: gr.OAuthProfile | None, oauth_token: gr.OAuthToken | None, typed_token: str | None = None):
        """After an out-of-memory failure: continue the run with a batch size that fits (auto_find_batch_size on one process)."""
        run = ownership.owned_run(ctx, run_id, request, profile, oauth_token)
        yield from relaunch(run, functools.partial(launcher.retry_with_auto_batch_size, token=ownership.visitor_token(oauth_token, typed_token)), f"Retrying run **{run.id}** with a smaller batch, from its last checkpoint.")

    retry_button.click(retry_smaller_batch, [ctx.current_run, ctx.hub_token], [ctx.current_run, notice], api_name="retry_smaller_batch", concurrency_id="launch", cancels=[follow_event])

    def refresh_runs(current, request: gr.Request, profile: gr.OAuthProfile | None, oauth_token: gr.OAuthToken | None):
        """The runs this page can follow (on a shared studio: this visitor's own)."""
        choices = ownership.run_choices(ctx, ownership.quiet_visitor(ctx, request, profile, oauth_token))
        return gr.Dropdown(choices=choices, value=current if current in [value for _, value in choices] else None)

    refresh_button.click(refresh_runs, ctx.current_run, run_picker, api_name="refresh_run_list", api_visibility="undocumented")

    @ui_errors
    def use_run_settings(run_id, loads, request: gr.Request, profile: gr.OAuthProfile | None, oauth_token: gr.OAuthToken | None, typed_token: str | None = None):
        """Put the followed run's settings on the form and load its data on the Data tab, to train again with a
        change or two. Options the form has no field for (trust_remote_code, say) are named, not carried over.
        Data loaded on the Data tab after the button was pressed wins over the run's (`loads`: see `latest_only`)."""
        who = ownership.visitor(ctx, request, profile, oauth_token)
        config = ownership.owned_run(ctx, run_id, who=who).config()
        values, note = services.reused_settings(run_id, config, form, runs_dir=ctx.runs_dir, owner=who)
        kept = {**values, EPOCHS_CHOSEN: True}
        try:  # in this event, not after it: see `load_run_data`
            data = load_run_data(services.run_selection(config), kept, loads, oauth_token, typed_token)
        except gr.Error as error:  # the settings still go on the form; the data loaded before stays
            data = [gr.skip()] * len(data_outputs)
            note += f" But its data could not be loaded, so the data loaded before stays: {render.md_escape(error.message)}"
        if data is None:  # the user loaded other data meanwhile
            data = [gr.skip()] * len(data_outputs)
            note += " But the data loaded on the Data tab meanwhile stays: a run started now trains on that."
        return (*restore_form(values), kept, *data, note)

    load_run_data, data_outputs = ctx.components["load_run_data"]
    settings_outputs = [*restored_outputs, ctx.saved_form, *data_outputs, notice]
    reuse_button.click(use_run_settings, [ctx.current_run, ctx.components["data_loads"], ctx.hub_token], settings_outputs, api_name="use_run_settings", api_visibility="private")
    ctx.components["use_run_settings"] = (use_run_settings, settings_outputs)  # the Runs tab offers it too

    def restore(saved, request: gr.Request, profile: gr.OAuthProfile | None, oauth_token: gr.OAuthToken | None):
        """On page open: follow the run this browser followed before, else the run training now (on a shared studio: the visitor's own)."""
        who = ownership.quiet_visitor(ctx, request, profile, oauth_token)
        runs = ownership.visible_runs(ctx, who)
        run_id = saved if saved and saved in {r.id for r in runs} else None  # a deleted run (or another's): fall through
        if run_id is None:
            active = [r for r in runs if r.state in ACTIVE_STATES]
            run_id = active[0].id if active else None
        return run_id or "", gr.Dropdown(choices=services.run_choices(ctx.store, runs=runs), value=run_id)

    ctx.demo.load(restore, ctx.saved_run, [ctx.current_run, run_picker], api_name="restore_session", api_visibility="private")
    # In the browser, at once: no round trip through the queue, which other visitors' events may hold up.
    ctx.demo.load(None, None, [form[n] for n in STARTS_EMPTY], js=f"() => {json.dumps([d[n] for n in STARTS_EMPTY])}", api_visibility="private")
    # Through the server, so after the line above: the values kept in the browser win over the task's.
    def restore_kept_form(saved):
        """`restore_form` on page open: the kept epochs only where the user chose them (else the data's stand)."""
        if isinstance(saved, dict) and not saved.get(EPOCHS_CHOSEN):
            saved = {name: value for name, value in saved.items() if name != "num_train_epochs"}
        return restore_form(saved)

    ctx.demo.load(restore_kept_form, ctx.saved_form, restored_outputs, api_name="restore_form", api_visibility="private")

    # ------------------------------------------------------------ reproduce

    @ui_errors
    @form_handler(form)
    def cli_command(values, processes, selection, request: gr.Request, profile: gr.OAuthProfile | None, oauth_token: gr.OAuthToken | None):
        """The `python -m finetuner train ...` command for these options and data (under
        `torchrun --standalone --nproc_per_node N` for several processes)."""
        config = config_from(values, selection, ownership.quiet_visitor(ctx, request, profile, oauth_token))
        return services.cli_command(config, runs_dir=services.shown_runs_dir(ctx.runs_dir), processes=services.check_processes(processes))

    @ui_errors
    @form_handler(form)
    def download_config(values, selection, request: gr.Request, profile: gr.OAuthProfile | None, oauth_token: gr.OAuthToken | None):
        """These options as a config.yaml for `python -m finetuner train config.yaml`."""
        config = config_from(values, selection, ownership.quiet_visitor(ctx, request, profile, oauth_token))
        path = Path(tempfile.mkdtemp(prefix="finetuner-config-")) / "config.yaml"
        config.save(path)
        return str(path)

    cli_button.click(cli_command, [*form_inputs, processes, ctx.dataset], cli_box, api_name="cli_command")
    config_button.click(download_config, [*form_inputs, ctx.dataset], config_file, api_name="download_config")

    # ------------------------------------------------------------ the data this tab trains on

    def describe_selection(selection, chosen_task=None):
        """The data this tab trains on; where it was loaded for another task than the chosen one, what to do."""
        selection = selection or services.default_selection()
        columns = selection.get("text_column_names") if services.task_of(selection) == services.DEFAULT_TASK else None
        parts = [f"**Data:** {render.md_escape(selection.get('name', ''))} ({TASKS[services.task_of(selection)].title.lower()})"]
        if columns:
            parts.append(f"text {' + '.join(render.md_code(c) for c in columns)}, label {render.md_code(selection.get('label_column_name'))}")
        note = " · ".join(parts) + " — change it in the **Data** tab."
        problem = services.task_mismatch(selection, chosen_task) if chosen_task else None
        return note + (f"\n\n⚠ {render.md_escape(problem)}" if problem else "")

    gr.on([ctx.dataset.change, task.change], describe_selection, [ctx.dataset, task], data_note, api_name="describe_data", api_visibility="private", show_progress="hidden")
    tab.select(describe_selection, [ctx.dataset, task], data_note, api_name="describe_data_on_select", api_visibility="private")
    ctx.demo.load(describe_selection, [ctx.dataset, task], data_note, api_name="describe_data_on_load", api_visibility="private")


def trained_lengths(split_stats: dict[str, Any], total: int) -> list[int]:
    """The token lengths of the examples training keeps of a split of `total` examples, from its measured statistics
    (`services.token_stats`): a causal LM's `left_out` (the examples whose prompt leaves no answer token within
    max_seq_length, `causal_lm.answer_left`) are not among them. A sample stands for as many of the split's examples
    as it keeps of its own (`_scaled`)."""
    lengths = split_stats["lengths"]
    left_out = set(split_stats.get("left_out", ()))
    kept = [n for i, n in enumerate(lengths) if i not in left_out]
    if left_out:
        total = round(total * len(kept) / len(lengths)) if len(lengths) < total else len(kept)
    return _scaled(kept, total)


def _scaled(sample: list[int], total: int) -> list[int]:
    """A sample of token lengths stretched to the split's full size (the estimate needs one per example)."""
    if not sample or len(sample) >= total:
        return list(sample)
    repeats, rest = divmod(total, len(sample))
    return sample * repeats + sample[:rest]
