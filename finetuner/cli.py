"""`python -m finetuner train|evaluate|predict|runs|compare|status|stop|resume` (and the Hub's push|card|...): the engine without a browser.

Flags carry the names of the transformers example script `run_classification.py` and of
`TrainingArguments`, so `--learning_rate 2e-5 --num_train_epochs 3 --fp16 true` mean what users expect.
A YAML or JSON config file with the same names can be given first; flags override it.

Exit codes: 0 done, 1 the run failed, 2 bad input (the message says what to fix), 3 stopped.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from . import distributed
from .config import SECTIONS, RunConfig, load_yaml, read_config_file, training_argument_names
from .data import FILE_FORMATS, check_sources
from .errors import ConfigError, FinetunerError, RunError, without_tokens
from .hub_reads import READER_VARIABLE, reading_as
from .hub_cli import HUB_COMMANDS, add_hub_commands, plan_push_after_training
from .access import default_runs_dir
from .runs import COMPLETED, FAILED, STOPPED, Run, RunStore, find_run, read_json

EXIT_CODES = {COMPLETED: 0, FAILED: 1, STOPPED: 3}


EXIT_CODES_HELP = "Exit codes: 0 done, 1 the run failed (the reason is printed), 2 bad input (the message says what to fix), 3 stopped."
RUNS_DIR_HELP = "Folder that holds the run folders (default: FINETUNER_RUNS_DIR, else /data/runs on a Space with persistent storage, else runs; as the studio's)."


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    config_file = _take_config_file(argv)
    args, unknown = parser.parse_known_args(argv)
    if getattr(args, "command", None) == "predict":
        args, unknown = _parse_predict(argv, args)
    if getattr(args, "command", None) == "train":
        args.config_file = config_file
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        if unknown and args.command != "train":
            raise ConfigError(f"Unknown option(s): {' '.join(unknown)}.{_did_you_mean(unknown, _options_of(parser, args.command))} See `python -m finetuner {args.command} --help`.")
        return COMMANDS[args.command](args, unknown)
    except FinetunerError as error:
        print(f"error: {without_tokens(str(error))}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader stopped reading (`runs | head`): stop too, quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # or the exit's flush raises again
        return 0


def _options_of(parser: argparse.ArgumentParser, command: str) -> list[str]:
    """The option names (without dashes) a subcommand takes."""
    subparsers = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))  # noqa: SLF001
    return [name.lstrip("-") for name in subparsers.choices[command]._option_string_actions if name.startswith("--")]  # noqa: SLF001


def _did_you_mean(tokens: Sequence[str], known: Sequence[str]) -> str:
    """' Did you mean --learning_rate?' for the first unknown option that is close to a known one (a typo, dashes for underscores)."""
    import difflib  # noqa: PLC0415

    for token in tokens:
        if token.startswith("--"):
            name = token[2:].partition("=")[0]
            close = difflib.get_close_matches(name.replace("-", "_"), known, n=1, cutoff=0.8)  # a typo, not a cousin: overwrite_output_dir is no output_dir
            if close and close[0] != name:  # a known option refused here is no typo
                return f" Did you mean --{close[0]}?"
    return ""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m finetuner", description="Fine-tune Hugging Face transformer models.", epilog=EXIT_CODES_HELP)
    parser.add_argument("--runs_dir", default=default_runs_dir(), help=RUNS_DIR_HELP)
    commands = parser.add_subparsers(dest="command")

    train = commands.add_parser(
        "train",
        help="Train a model; any TrainingArguments flag is accepted too.",
        description="Train a model. A YAML or JSON config file with the same names as these flags may come first; flags "
        "override it. Any other transformers TrainingArguments option passes through as a flag (--max_grad_norm 0.5, "
        "--optim adamw_torch, --fp16 true).",
        epilog=EXIT_CODES_HELP,
    )
    train.usage = "python -m finetuner train [config.yaml|config.json] [--option value ...]"
    train.add_argument("--output_dir", help="Run folder to create (default: a new folder under --runs_dir).")
    train.add_argument("--run_dir", help=argparse.SUPPRESS)  # the studio's launcher: train this existing run
    train.add_argument("--resume", action="store_true", help=argparse.SUPPRESS)
    for section in SECTIONS:
        group = train.add_argument_group(section.__name__)
        for f in dataclasses.fields(section):
            if f.name == "extra_training_args":
                continue
            kwargs: dict[str, Any] = {"default": argparse.SUPPRESS, "help": f.metadata.get("help", "").replace("%", "%%")}
            if str(f.type).startswith("bool"):
                kwargs.update(nargs="?", const="true", metavar="BOOL")
            if "choices" in f.metadata:
                kwargs["choices"] = f.metadata["choices"]
            group.add_argument(f"--{f.name}", **kwargs)

    evaluate = commands.add_parser("evaluate", help="Evaluate a completed run on its test split (else validation) or on other labelled data.")
    evaluate.add_argument("run_id", help="A run id, or a run folder.")
    evaluate.add_argument("--test_file", help="Evaluate on this file instead of the run's own test split.")
    evaluate.add_argument("--dataset_name", help="Evaluate on this Hub dataset instead.")
    evaluate.add_argument("--dataset_config_name", help="Configuration of the Hub dataset, if it has several.")
    evaluate.add_argument("--split", help="Split of the Hub dataset (default: test).")
    evaluate.add_argument("--output_dir", help="Write the report and predictions to this folder instead of the run's eval/extra/ (needed where the run's folder is read-only).")

    predict = commands.add_parser("predict", help="Predict with a run or a model folder: labels, entities, answers or summaries, by task.")
    _add_predict_arguments(predict)

    commands.add_parser("runs", help="List runs with their state and key metrics.")
    compare = commands.add_parser("compare", help="Two runs: the options that differ and B's score against A's on the same examples (accuracy, entity F1 or ROUGE-L).")
    compare.add_argument("run_a", help="A run id, or a run folder.")
    compare.add_argument("run_b", help="Another run, compared with A.")
    for name, text in (("status", "Show a run's status and final metrics."), ("stop", "Stop a run: it saves a checkpoint and ends (one still loading ends at once; one past its last step completes)."), ("resume", "Continue a stopped or interrupted run.")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("run_id")
        if name == "resume":
            sub.add_argument(
                "--auto_find_batch_size",
                action="store_true",
                help="After an out-of-memory failure: continue with a batch size that fits (one process: the Trainer's "
                "auto_find_batch_size; several: half the batch, twice the gradient accumulation).",
            )
    delete = commands.add_parser("delete", help="Delete a run's folder (model, checkpoints, evaluation) for good; not while it trains.")
    delete.add_argument("run_id", help="A run id, or a run folder.")
    delete.add_argument("--yes", action="store_true", help="Delete without asking (needed where no one can answer, as in a script).")
    add_hub_commands(commands, train)
    for sub in commands.choices.values():  # `python -m finetuner status RUN --runs_dir X` works as well as before the command
        sub.add_argument("--runs_dir", default=argparse.SUPPRESS, help=RUNS_DIR_HELP)
    return parser


def _add_predict_arguments(predict: argparse.ArgumentParser) -> None:
    predict.add_argument("model", help="A run id, a run folder or a model folder/Hub id.")
    predict.add_argument("texts", nargs="*", help="Texts to classify, tag, answer or summarize (before or after the options).")
    predict.add_argument(
        "--text_pair",
        action="append",
        metavar="TEXT",
        help="Sentence-pair classification: the second text of a pair (transformers' text_pair), once for each text, in the "
        "same order: predict RUN \"premise\" --text_pair \"hypothesis\". A run trained on pairs needs it.",
    )
    predict.add_argument("--max_new_tokens", type=int, help="Generative tasks: most tokens to generate, 1 or more (default: the run's generation_max_new_tokens).")
    predict.add_argument("--temperature", type=float, help="Causal LM: sampling temperature; 0 picks the likeliest token (default).")
    predict.add_argument("--top_p", type=float, help="Causal LM: sample only from the smallest set of tokens whose probability reaches top_p (default 1).")
    predict.add_argument("--num_beams", type=int, help="Summarization (seq2seq): beam search over this many beams, 1 or more (default 1: greedy).")
    predict.add_argument(
        "--input_file",
        help="CSV/TSV/JSON/JSONL/Parquet to predict on, every row: a text column, or the run's training format (sentence pairs, "
        "NER words, chat messages, instruction/input); writes --output_file.",
    )
    predict.add_argument(
        "--text_column_name",
        help="Column of --input_file to predict on; two, comma-separated, for a sentence-pair model (default: the run's own columns, else detected).",
    )
    predict.add_argument("--output_file", help="Where to write predictions: CSV, or TSV, JSON Lines (.jsonl/.json) or Parquet by its extension; default: stdout as JSON lines.")


def _parse_predict(argv: list[str], parsed: argparse.Namespace) -> tuple[argparse.Namespace, list[str]]:
    """`predict`'s arguments again, with options and texts in any order (`predict run --max_new_tokens 5 "a text"`):
    the subcommand parser, like any with a `nargs="*"` positional, takes the texts only where they follow it."""
    position = next(i for i, word in enumerate(argv) if word == "predict" and (i == 0 or argv[i - 1] != "--runs_dir"))
    predict = argparse.ArgumentParser(prog="python -m finetuner predict")
    _add_predict_arguments(predict)
    predict.add_argument("--runs_dir", default=argparse.SUPPRESS)  # after the command too, as `predict --help` lists it
    args, unknown = predict.parse_known_intermixed_args(argv[position + 1 :])
    return argparse.Namespace(**{**vars(parsed), **vars(args)}), unknown


def _take_config_file(argv: list[str]) -> str | None:
    """`train config.yaml --flag ...`: a config file is the word right after `train`; remove it from argv."""
    if "train" in argv:
        position = argv.index("train") + 1
        if position < len(argv) and argv[position].endswith((".yaml", ".yml", ".json")):
            return argv.pop(position)
    return None


def config_from_args(args: argparse.Namespace, unknown: Sequence[str]) -> RunConfig:
    """File values, overridden by flags; unknown `--name value` pairs must be TrainingArguments options."""
    values: dict[str, Any] = {}
    in_file = read_config_file(args.config_file) if args.config_file else {}
    if args.config_file:
        values.update(RunConfig.from_dict(in_file).to_dict())
    section_fields = {f.name for s in SECTIONS for f in dataclasses.fields(s)}
    given = [k for k in vars(args) if k in section_fields]  # the flags typed (a config file holds every option: the studio's does)
    values.update({k: getattr(args, k) for k in given})
    extra = dict(values.get("extra_training_args") or {})
    extra.update(_passthrough(unknown))
    values["extra_training_args"] = extra
    config = RunConfig.from_dict(values)
    _check_task_flags(given, config, task_given="task" in given or "task" in in_file or "task" in (in_file.get("model") or {}))
    return config


def _check_task_flags(given: Sequence[str], config: RunConfig, *, task_given: bool) -> None:
    """A flag the run's task would ignore is refused, not dropped: `--lora_r 8` on a text classifier (or without
    --use_lora), `--summary_column_name` without `--task seq2seq`, trained for minutes as if it had been taken."""
    from .tasks import ignores, tasks_reading  # noqa: PLC0415

    task = config.model.task
    for name in given:
        if not ignores(config, name):
            continue
        owners = tasks_reading(name)
        if task in owners:  # a LoRA setting
            raise ConfigError(f"--{name} sets the LoRA adapters, which train only with --use_lora: add --use_lora, or leave --{name} out.")
        which = f"this run's task is {task}" + ("" if task_given else " (the default; --task chooses another)")
        raise ConfigError(
            f"--{name} applies to the {' and '.join(owners)} task{'s' if len(owners) > 1 else ''}, and {which}, which would ignore it. "
            f"Leave --{name} out, or give --task {owners[0]}."
        )


def _passthrough(tokens: Sequence[str]) -> dict[str, Any]:
    """`--fp16 --optim adamw_torch --max_grad_norm=0.5` -> TrainingArguments options, values parsed as YAML."""
    options: dict[str, Any] = {}
    tokens = list(tokens)
    while tokens:
        token = tokens.pop(0)
        if not token.startswith("--"):
            raise ConfigError(
                f"Unexpected argument '{token}'. Options are --name value; a config file (.yaml, .yml or .json) comes right after `train`"
                + (f"; a data file goes with --train_file: --train_file {token}." if Path(token).suffix.lower() in FILE_FORMATS else ".")
            )
        name, _, value = token[2:].partition("=")
        if not value:
            value = tokens.pop(0) if tokens and not tokens[0].startswith("--") else "true"
        if name not in training_argument_names():
            known = [*_options_of(build_parser(), "train"), *sorted(training_argument_names())]
            raise ConfigError(f"Unknown option '--{name}': it is neither a finetuner option nor a TrainingArguments option.{_did_you_mean([token], known)}")
        if name in ("output_dir", "hub_token"):
            raise ConfigError(f"'--{name}' cannot be passed through; " + ("use finetuner's --output_dir." if name == "output_dir" else "set HF_TOKEN instead."))
        options[name] = load_yaml(value)
    return options


def cmd_train(args: argparse.Namespace, unknown: Sequence[str]) -> int:
    from .train import run_training  # noqa: PLC0415 - heavy

    if args.run_dir:
        run = Run(Path(args.run_dir).resolve())
        if not run.config_path.is_file():
            raise ConfigError(f"'{args.run_dir}' is not a run folder (it has no config.yaml).")
        try:
            with reading_as(os.environ.get(READER_VARIABLE)):  # a studio visitor's token, where the studio started this run for one
                return EXIT_CODES.get(run_training(run, resume=args.resume), 1)
        finally:
            distributed.teardown()
    config = config_from_args(args, unknown)
    if not config.data.dataset_name and not config.data.train_file:  # check_sources says it as the studio does: "upload a training file"
        raise ConfigError("No data given: add --train_file FILE (CSV, TSV, JSON, JSONL or Parquet) or --dataset_name ID (a Hub dataset), or a config file that names one.")
    check_sources(config.data)
    _freeze_local_paths(config)
    if args.output_dir:
        out = Path(args.output_dir)
        store, run_id = RunStore(out.parent), out.name
    else:
        store, run_id = RunStore(args.runs_dir), None
    # Under torchrun / accelerate launch every process runs this: the main process creates the one run folder.
    world = distributed.setup(config)
    push = None

    def create_run() -> str:
        nonlocal push
        _check_before_training(config)
        push = plan_push_after_training(args, config)  # checks the token before training starts
        created = store.create(config, run_id=run_id)
        print(f"Run {created.id} in {created.path}")
        return str(created.path)

    try:
        run = Run(Path(world.on_main(create_run)))
        state = run_training(run)
    finally:
        distributed.teardown()
    if world.is_main:
        _print_outcome(run)
        if push and state == COMPLETED:
            push(run)
    return EXIT_CODES.get(state, 1)


def _freeze_local_paths(config: RunConfig) -> None:
    """A run's config is read again from other working directories (`resume`, `evaluate`, the studio): a relative
    path given here (`--train_file data.csv`, a model folder) is frozen as the absolute path it names now, or the
    run could not find its data or model from anywhere else (and a relative model folder would read as a Hub id)."""
    for section, names in ((config.data, ("train_file", "validation_file", "test_file", "dataset_name")), (config.model, ("model_name_or_path", "tokenizer_name"))):
        for name in names:
            value = getattr(section, name)
            if value and Path(value).exists():
                setattr(section, name, str(Path(value).resolve()))


def _check_before_training(config: RunConfig) -> None:
    """What the studio checks before Start: the options (the model's kind and longest inputs among them), the data (read and
    checked as training reads it; its warnings printed), the tokenizer and the data under it (the task's `check_tokenization`:
    a causal LM's chat template and answers past max_seq_length, seq2seq summaries cut to nothing). A problem exits 2 and
    leaves no failed run folder behind."""
    from .inference import read_cache_if_hub_unreachable  # noqa: PLC0415
    from .tasks import get_task  # noqa: PLC0415 - heavy
    from .train import check_options  # noqa: PLC0415

    # At once, not after minutes of huggingface_hub's retries, when the Hub is unreachable: a model in the cache is read from there.
    for name in read_cache_if_hub_unreachable((config.model.model_name_or_path, config.model.tokenizer_name)):
        print(f"The Hugging Face Hub cannot be reached: {name} is read from the local cache (HF_HUB_OFFLINE=1 for this run).", file=sys.stderr)
    check_options(config)
    task = get_task(config.model.task)
    prepared = task.prepare_data(config)
    for warning in task.data_report(prepared).get("warnings") or []:
        print(f"data: {warning}", file=sys.stderr)
    task.check_tokenization(prepared.splits, task.load_tokenizer(config), config)


def cmd_resume(args: argparse.Namespace, unknown: Sequence[str]) -> int:
    from .train import run_training  # noqa: PLC0415 - heavy

    from .launcher import prepare_smaller_batch_retry  # noqa: PLC0415
    from .resuming import check_resumable  # noqa: PLC0415

    run = find_run(args.runs_dir, args.run_id)
    world = distributed.setup(run.config())

    def check() -> None:
        if run.is_alive():  # the main process only: a look at the lock from another could block the main's own
            raise FinetunerError(f"Run {run.id} is already training.")
        check_resumable(run, processes=world.size)
        if args.auto_find_batch_size:
            print(prepare_smaller_batch_retry(run, processes=world.size))

    try:
        world.on_main(check)
        state = run_training(run, resume=True)
    finally:
        distributed.teardown()
    if world.is_main:
        _print_outcome(run)
    return EXIT_CODES.get(state, 1)


def _print_outcome(run: Run) -> None:
    status = run.status()
    state, message = status.get("state"), status.get("message") or ""
    print(f"Run {run.id}: {state}." + (f" {message}" if message.rstrip(".").lower() != str(state).lower() else ""))  # not "failed. Failed."
    if status.get("error"):
        print(f"error: {status['error']}", file=sys.stderr)
    for event in run.events():
        if event.get("type") == "message" and event.get("warning"):
            print(f"warning: {event.get('text')}", file=sys.stderr)
    task, baselines = run.config().model.task, read_json(run.eval_dir / "baselines.json", {}) or {}
    for split in ("validation", "test"):
        metrics = run.metrics(split)
        if metrics:
            print(f"{split}: " + ", ".join(f"{k}={v:.4f}" for k, v in metrics.items() if isinstance(v, float) and "per_second" not in k))
            _print_intervals(split, run.eval_dir / f"report_{split}.json", task)
            _print_gains(split, baselines)


def _print_gains(split: str, baselines: dict[str, Any]) -> None:
    """What the model gained over each baseline on the split (accuracy, entity F1 or ROUGE-L), with its paired interval."""
    from .tasks import baseline_name  # noqa: PLC0415
    from .intervals import describe_gain  # noqa: PLC0415

    for name, by_split in baselines.items():
        gain = describe_gain(baseline_name(name), (by_split or {}).get(split) or {}) if isinstance(by_split, dict) else None
        if gain:
            print(f"{split}: {gain}")


def _print_intervals(split: str, report_path: Path, task: str) -> None:
    """The task's headline metrics' confidence intervals, where its report has them (classification, NER)."""
    from .tasks import TASKS  # noqa: PLC0415

    report = read_json(report_path, {}) or {}
    found = report.get("intervals") or {}
    shown = {name: found[name] for name in TASKS[task].headline if name in found}
    if shown:
        print(f"{split} {report.get('interval_level', 0.95):.0%} intervals: " + ", ".join(f"{name} {low:.4f}-{high:.4f}" for name, (low, high) in shown.items()))


def cmd_evaluate(args: argparse.Namespace, unknown: Sequence[str]) -> int:
    from .evaluate_run import check_evaluable, evaluate_run, saves_into_run  # noqa: PLC0415 - heavy

    if args.test_file and args.dataset_name:
        raise ConfigError("Give --test_file or --dataset_name to evaluate on, not both.")
    if not args.dataset_name and (args.split or args.dataset_config_name):
        raise ConfigError(f"--{'split' if args.split else 'dataset_config_name'} chooses from the Hub dataset of --dataset_name; give --dataset_name too.")
    run = find_run(args.runs_dir, args.run_id)
    check_evaluable(run, into_run=not args.output_dir)  # a refused run leaves no --output_dir folder behind
    made = _make_output_dir(Path(args.output_dir)) if args.output_dir else []  # before the model loads, not after
    try:
        result = evaluate_run(run, test_file=args.test_file, dataset_name=args.dataset_name, dataset_config_name=args.dataset_config_name, split=args.split or "test", out_dir=args.output_dir)
    except BaseException:
        for folder in reversed(made):  # refused data, a model that fails to load: the folders made for it go again, if still empty
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    print(json.dumps(result["metrics"], indent=2))
    _print_intervals(result["name"], Path(result["out_dir"]) / f"report_{result['name']}.json", run.config().model.task)
    if result["rows_left_out"]:
        print(f"{result['rows_left_out']} row(s) without a label or reference (tags, summary, answer) were left out of the scores.")
    if not args.output_dir:
        print(f"Report and predictions written to {result['out_dir']}")
    elif saves_into_run(run):
        print(f"Report and predictions written to {result['out_dir']} (--output_dir), not into run {run.id}'s folder.")
    else:
        print(f"Report and predictions written to {result['out_dir']}, not into run {run.id}: its folder {run.path} is read-only.")
    return 0


def _make_output_dir(path: Path) -> list[Path]:
    """evaluate's --output_dir is a folder this user can write (made if missing); the folders it made, outermost first."""
    if path.exists() and not path.is_dir():
        raise ConfigError(f"--output_dir '{path}' is a file; give a folder for the report and predictions.")
    absolute = path.absolute()
    made = [folder for folder in (*reversed(absolute.parents), absolute) if not folder.exists()]
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"Cannot make --output_dir '{path}': {error.strerror or error}. Choose a folder you can write.") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(f"Cannot write --output_dir '{path}': permission denied. Choose a folder you can write.")
    return made


def cmd_predict(args: argparse.Namespace, unknown: Sequence[str]) -> int:
    from .inference import load_predictor, named_run, predict_file, write_predictions  # noqa: PLC0415 - heavy

    if args.max_new_tokens is not None and args.max_new_tokens < 1:
        raise ConfigError(f"--max_new_tokens must be 1 or more (the most tokens to generate); it is {args.max_new_tokens}.")
    if args.num_beams is not None and args.num_beams < 1:
        raise ConfigError(f"--num_beams must be 1 or more (1 is greedy decoding); it is {args.num_beams}.")
    if args.input_file and (args.texts or args.text_pair):
        raise ConfigError(f"Give texts to predict on or --input_file, not both{' (a file gives both texts of its pairs: --text_column_name first,second)' if args.text_pair else ''}.")
    if args.text_column_name and not args.input_file:
        raise ConfigError("--text_column_name names the column(s) of --input_file to predict on; texts given here are predicted as they are (a pair's second text: --text_pair).")
    if args.output_file and not args.input_file:
        raise ConfigError("--output_file writes the predictions of --input_file; those of texts given here are printed as JSON lines (redirect them: ... > predictions.jsonl).")
    if args.output_file:
        _check_writable(Path(args.output_file))  # before predicting a whole file, not after
    if not args.input_file and not args.texts:
        raise ConfigError("Give texts to predict on, or --input_file.")
    for what, values in (("text", args.texts), ("--text_pair", args.text_pair or [])):
        blank = [number for number, text in enumerate(values, 1) if not text.strip()]
        if blank:
            raise ConfigError(f"{what.capitalize() if what == 'text' else what} {blank[0]} of {len(values)} is empty: there is nothing to predict on. Put the text between the quotes, or leave them out.")
    run = named_run(args.model, runs_dir=args.runs_dir) or _run_of_model_folder(Path(args.model))
    if not args.input_file:
        _check_pairs(args.texts, args.text_pair, run)  # before loading the model
    predictor = load_predictor(args.model, runs_dir=args.runs_dir)
    for flag, tasks, what in (
        ("num_beams", ("seq2seq",), "summarization (seq2seq) models"),
        ("max_new_tokens", ("causal-lm", "seq2seq"), "generative models (causal LM and seq2seq)"),
        ("temperature", ("causal-lm",), "causal LM models, which sample"),
        ("top_p", ("causal-lm",), "causal LM models, which sample"),
    ):
        if getattr(args, flag) is not None and predictor.task not in tasks:
            raise ConfigError(f"--{flag} applies to {what}; {args.model} is a {predictor.task} model. Leave it out.")
    options = {"max_new_tokens": args.max_new_tokens, "temperature": args.temperature, "top_p": args.top_p, "num_beams": args.num_beams}
    options = {k: v for k, v in options.items() if v is not None}
    if args.input_file:
        frame = predict_file(predictor, args.input_file, text_column=args.text_column_name, run=run, **options)
        if args.output_file:
            write_predictions(frame, args.output_file)
            print(f"Wrote {len(frame)} predictions to {args.output_file}")
        else:
            sys.stdout.write(frame.to_json(orient="records", lines=True, force_ascii=False))  # as typed texts' lines: "café", not "caf\\u00e9"
        return 0
    if args.text_pair is not None:
        if predictor.task != "text-classification":
            raise _pairs_refused(args.model, predictor.task)
        records = predictor.records(args.texts, args.text_pair)
    else:
        records = predictor.records(args.texts, **options)
    for record in records:
        print(json.dumps(record, ensure_ascii=False))
    return 0


def _check_pairs(texts: list[str], text_pairs: list[str] | None, run: Run | None) -> None:
    """Texts typed for a sentence-pair model come with their second texts (`--text_pair`, once per text): a model
    trained on pairs that is given one text alone answers another question, silently. A run says which it was trained
    on (its data_report.json); a model folder or Hub model does not, so it gets pairs only where they are given."""
    if run is None:
        return
    task = run.config().model.task
    if task != "text-classification":  # whose text columns are no pair (a causal LM's instruction and input)
        if text_pairs is not None:
            raise _pairs_refused(run.id, task)
        return
    from .inference import trained_text_columns  # noqa: PLC0415

    trained = trained_text_columns(run)
    if text_pairs is None:
        if len(trained) == 2:
            raise ConfigError(
                f"Run {run.id} was trained on sentence pairs ({trained[0]!r} and {trained[1]!r}): give each text's second text with "
                f'--text_pair, once for each text and in the same order: predict {run.id} "a {trained[0]}" --text_pair "its {trained[1]}". '
                "Or predict on a file with both columns (--input_file)."
            )
        return
    if len(trained) == 1:
        raise ConfigError(f"Run {run.id} was trained on single texts (its column {trained[0]!r}), not pairs: give its texts without --text_pair.")
    if len(text_pairs) != len(texts):
        raise ConfigError(f"{len(texts)} text(s) and {len(text_pairs)} --text_pair value(s): give one --text_pair for each text, in the same order.")


def _run_of_model_folder(folder: Path) -> Run | None:
    """The run whose `model/` folder this is: its data report says what the model was trained on (pairs, columns)."""
    parent = folder.expanduser().resolve().parent
    return Run(parent) if folder.name == "model" and (parent / "config.yaml").is_file() else None


def _pairs_refused(model: str, task: str) -> ConfigError:
    return ConfigError(f"--text_pair is for sentence-pair classification; '{model}' is a {task} model. Give only its texts.")


def _check_writable(path: Path) -> None:
    """--output_file can be written: its folder exists and takes files, and it is not a folder itself."""
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise ConfigError(f"--output_file '{path}' is a folder; give a file name, such as {path / 'predictions.csv'}.")
    if not folder.is_dir():
        raise ConfigError(f"Cannot write --output_file '{path}': the folder '{folder}' does not exist. Create it, or choose another location.")
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ConfigError(f"Cannot write --output_file '{path}': permission denied. Choose a location you can write to.")


def cmd_runs(args: argparse.Namespace, unknown: Sequence[str]) -> int:
    runs = RunStore(args.runs_dir).list()
    if not runs:
        print(f"No runs in {Path(args.runs_dir).resolve()}.")
    for run in runs:
        status = run.status()
        metrics = status.get("metrics") or {}
        shown = " ".join(f"{k}={v:.4f}" for k, v in metrics.items() if isinstance(v, float))
        print(f"{run.id}\t{status.get('state')}\t{shown}")
    return 0


def cmd_compare(args: argparse.Namespace, unknown: Sequence[str]) -> int:
    from .compare import SAME_RUN, config_diff, describe, paired_comparison  # noqa: PLC0415

    a, b = find_run(args.runs_dir, args.run_a), find_run(args.runs_dir, args.run_b)
    if a.path.resolve() == b.path.resolve():  # a typo more likely than a wish: bad input, as any other
        raise RunError(SAME_RUN.format(run=a.id))
    print(f"A: {a.id}\nB: {b.id}")
    rows = config_diff(a.config(), b.config())
    print("Options that differ (A -> B):" if rows else "Same options.")
    for name, left, right in rows:
        print(f"  {name}: {left} -> {right}")
    print(describe(paired_comparison(a, b)))
    return 0


def cmd_status(args: argparse.Namespace, unknown: Sequence[str]) -> int:
    run = find_run(args.runs_dir, args.run_id)
    print(json.dumps(run.status(), indent=2, default=str))
    return 0


def cmd_stop(args: argparse.Namespace, unknown: Sequence[str]) -> int:
    from .launcher import stop_training  # noqa: PLC0415

    run = find_run(args.runs_dir, args.run_id)
    state = stop_training(run, wait=True)
    print(f"Run {run.id}: {state}.")
    return 0


def cmd_delete(args: argparse.Namespace, unknown: Sequence[str]) -> int:
    """As the studio's Delete: asks first (or takes --yes); a run that trains or waits in the queue is refused."""
    run = find_run(args.runs_dir, args.run_id)
    if not args.yes:
        if not sys.stdin.isatty():
            raise ConfigError(f"Deleting run {run.id} removes its folder {run.path} for good; add --yes to confirm.")
        if input(f"Delete run {run.id} and its folder {run.path} (model, checkpoints, evaluation) for good? [y/N] ").strip().lower() not in ("y", "yes"):
            print("Nothing deleted.")
            return 0
    RunStore(run.path.parent).delete(run.id)
    print(f"Deleted run {run.id} ({run.path}).")
    return 0


COMMANDS = {
    "train": cmd_train,
    "resume": cmd_resume,
    "evaluate": cmd_evaluate,
    "predict": cmd_predict,
    "runs": cmd_runs,
    "compare": cmd_compare,
    "status": cmd_status,
    "stop": cmd_stop,
    "delete": cmd_delete,
}
COMMANDS.update(HUB_COMMANDS)
