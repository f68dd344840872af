"""The Train tab's task options and devices through gradio_client, as an API user (and the page) sees them:
LoRA, packing and completion-only loss shown for causal LMs only; LoRA values reaching the run's
config.yaml with the trainable-parameter count that peft itself gives; the exact command for several
processes and the estimate for them; an interrupted run explained; bad values refused with clear words.

One tiny LLaMA (built here) and one short LoRA run, shared by the module."""

from __future__ import annotations

import re

import pytest
import yaml
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from finetuner.tasks import TASKS
from support import follow_to_end
from task_fixtures import CHATML, build_tiny_causal_lm, make_instruction_records, write_jsonl

LORA = {"use_lora": True, "lora_r": 4, "lora_alpha": 8, "lora_dropout": 0.1, "lora_target_modules": ["q_proj", "v_proj"]}
QUICK = {
    "max_seq_length": 64, "learning_rate": 5e-3, "per_device_train_batch_size": 8, "max_steps": 4, "logging_steps": 2,
    "warmup_steps": 0, "eval_strategy": "no", "generation_max_new_tokens": 6, "generation_num_samples": 2,
}
OPTION_LABELS = {
    "head_learning_rate": "Learning rate of the new head",
    "label_all_tokens": "Label every sub-word token",
    "use_lora": "LoRA adapters (parameter-efficient fine-tuning)",
    "packing": "Packing",
    "completion_only_loss": "Loss on the completion only",
    "generation_max_new_tokens": "Generated tokens at most",
    "max_target_length": "Max summary length (tokens)",
    "source_prefix": "Source prefix",
}
SHOWN = {
    "text-classification": {"head_learning_rate"},
    "token-classification": {"head_learning_rate", "label_all_tokens"},
    "causal-lm": {"use_lora", "packing", "completion_only_loss", "generation_max_new_tokens"},
    "seq2seq": {"generation_max_new_tokens", "max_target_length", "source_prefix"},
}


@pytest.fixture(scope="module")
def lm(tmp_path_factory):
    """(tiny causal LM folder, instruction JSONL), made here."""
    from finetuner.tasks.causal_lm import GENERAL_TEXT

    folder = tmp_path_factory.mktemp("train-options")
    records = make_instruction_records(48)
    texts = [r["instruction"] + " " + r["output"] for r in records] + GENERAL_TEXT.read_text().splitlines()
    return build_tiny_causal_lm(folder / "lm", texts, chat_template=CHATML), write_jsonl(folder / "instructions.jsonl", records)


def lm_session(studio, lm) -> Client:
    """An API session with the instruction data loaded for the causal-LM task."""
    client = Client(studio[0], verbose=False)
    summary, *_ = client.predict(task="causal-lm", source="Upload files", train_file=handle_file(str(lm[1])), validation_file=None, test_file=None, api_name="/load_dataset")
    assert lm[1].name in summary
    return client


@pytest.fixture(scope="module")
def lora_run(studio, lm):
    """The LoRA count shown before launch, then a 4-step LoRA run started with it and followed to its end."""
    client = lm_session(studio, lm)
    shown, choices = client.predict(str(lm[0]), "causal-lm", True, LORA["lora_r"], LORA["lora_alpha"], LORA["lora_dropout"], LORA["lora_target_modules"], api_name="/lora_parameters")
    run_id, _, note = client.predict(model_name_or_path=str(lm[0]), task="causal-lm", **QUICK, **LORA, completion_only_loss=False, api_name="/start_training")
    assert run_id in note
    final = follow_to_end(client, run_id)
    assert final and final["state"] == "completed", final
    return {"run": studio[1] / run_id, "shown": shown, "choices": choices}


def labelled(client, api_name: str, outputs) -> dict:
    """An endpoint's outputs by their component labels."""
    returns = client.view_api(return_format="dict", print_info=False)["named_endpoints"][api_name]["returns"]
    return {r["label"]: value for r, value in zip(returns, outputs)}


def test_every_option_is_an_api_parameter(client):
    endpoints = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert {"/choose_task", "/lora_parameters", "/launch_command", "/estimate_training", "/start_training", "/cli_command"} <= set(endpoints)
    names = [p["parameter_name"] for p in endpoints["/start_training"]["parameters"]]
    assert set(OPTION_LABELS) | set(LORA) | {"generation_num_samples", "processes", "run_name"} <= set(names)
    assert not {"selection", "request", "profile", "oauth_token", "values"} & set(names), "session state and identity stay out of the API"
    assert "processes" in [p["parameter_name"] for p in endpoints["/estimate_training"]["parameters"]]
    assert "processes" in [p["parameter_name"] for p in endpoints["/cli_command"]["parameters"]]


@pytest.mark.parametrize("task", list(SHOWN))
def test_each_task_shows_only_its_own_options(client, task):
    by_label = labelled(client, "/choose_task", client.predict(task, api_name="/choose_task"))
    shown = {name for name, label in OPTION_LABELS.items() if by_label[label]["visible"]}
    assert shown == SHOWN[task]
    assert by_label[OPTION_LABELS["use_lora"]]["value"] is False, "switching task starts with LoRA off"
    assert by_label["LoRA target modules"]["visible"] is False, "LoRA's own options wait until LoRA is on"
    info = TASKS[task]
    assert (by_label["Learning rate"]["value"], by_label["Batch size"]["value"]) == (info.default_learning_rate, info.default_train_batch_size), "the task's own defaults"
    assert by_label[OPTION_LABELS["head_learning_rate"]]["value"] == info.default_head_learning_rate, "empty where the task has none"


def test_lora_values_reach_the_run_and_the_count_is_peft_s(lora_run, lm):
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM

    from finetuner.config import RunConfig
    from finetuner.tasks.causal_lm import lora_config

    saved = yaml.safe_load((lora_run["run"] / "config.yaml").read_text())
    assert {k: saved[k] for k in LORA} == LORA
    assert saved["task"] == "causal-lm" and saved["completion_only_loss"] is False and saved["max_steps"] == 4
    assert saved["generation_num_samples"] == 2 and saved["generation_max_new_tokens"] == 6

    config = RunConfig.from_dict({"task": "causal-lm", "model_name_or_path": str(lm[0]), **LORA})
    trainable, total = get_peft_model(AutoModelForCausalLM.from_pretrained(lm[0]), lora_config(config)).get_nb_trainable_parameters()
    shown = lora_run["shown"]
    assert f"LoRA trains {trainable / 1e3:.0f} K of {total / 1e3:.0f} K parameters ({trainable / total:.2%})" in shown, shown
    assert f"{trainable:,} adapter weights on `q_proj`, `v_proj`" in shown and f"the other {total - trainable:,} of {total:,} stay frozen" in shown
    info = yaml.safe_load((lora_run["run"] / "model_info.json").read_text())
    assert (info["trainable_parameters"], info["total_parameters"]) == (trainable, total), "what training counted is what was shown"
    choices = lora_run["choices"]["choices"]
    assert [value for value, _ in choices] == ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"], "the model's linear layers are offered"
    assert (lora_run["run"] / "adapter").is_dir() and (lora_run["run"] / "model").is_dir(), "the adapter alone, and merged into model/"


def test_a_run_name_that_cannot_name_a_folder_is_said_as_it_is_typed(client):
    """Beside the command Start would run, before Start prepares the data and refuses it."""
    shown = client.predict(1, "my run", api_name="/launch_command")
    assert shown == "# Run name 'my run' must start with a letter or digit and hold only letters, digits, '.', '_' and '-' (no spaces or accents). 'my-run' would do."
    assert client.predict(1, "my-run", api_name="/launch_command").endswith("/my-run")


def test_the_command_for_several_processes(client, studio):
    from finetuner.ui import services

    if services.processes_offered()["maximum"] < 2:
        pytest.skip("this machine offers one training process")
    assert client.predict(1, "", api_name="/launch_command").startswith("python -m finetuner train --run_dir ")
    two = client.predict(2, "my-run", api_name="/launch_command")
    assert re.fullmatch(r"torchrun --standalone --nproc_per_node 2 -m finetuner train --run_dir \S*my-run", two), two
    command = client.predict(model_name_or_path="some/model", task="causal-lm", **LORA, processes=2, api_name="/cli_command")
    assert command.startswith("torchrun --standalone --nproc_per_node 2 -m finetuner "), command
    assert "--use_lora true --lora_r 4 --lora_alpha 8 --lora_dropout 0.1 --lora_target_modules q_proj,v_proj" in command
    assert client.predict(model_name_or_path="some/model", processes=1, api_name="/cli_command").startswith("python -m finetuner ")


def test_a_shared_studio_shows_commands_without_the_server_runs_folder(client, studio, monkeypatch):
    """The launch preview and the reproduce command name the runs folder locally; a shared studio's visitors
    see a placeholder in the one and no --runs_dir in the other (a command they copy trains in their own runs/)."""
    folder = str(studio[1])
    assert client.predict(1, "mine", api_name="/launch_command") == f"python -m finetuner train --run_dir {folder}/mine"
    assert f"--runs_dir {folder} " in client.predict(model_name_or_path="some/model", api_name="/cli_command")
    monkeypatch.setenv("FINETUNER_SHARED", "1")
    assert client.predict(1, "mine", api_name="/launch_command") == "python -m finetuner train --run_dir <runs folder>/mine"
    assert client.predict(1, "", api_name="/launch_command") == "python -m finetuner train --run_dir <runs folder>/<run id>"
    command = client.predict(model_name_or_path="some/model", api_name="/cli_command")
    assert command.startswith("python -m finetuner train ") and folder not in command and "--runs_dir" not in command

def test_other_tasks_options_reach_the_config_and_the_command(client):
    ner = client.predict(task="token-classification", label_all_tokens=True, head_learning_rate=2e-3, api_name="/download_config")
    assert (yaml.safe_load(open(ner))["label_all_tokens"], yaml.safe_load(open(ner))["head_learning_rate"]) == (True, 2e-3)
    options = {"task": "seq2seq", "model_name_or_path": "some/t5", "max_target_length": 32, "source_prefix": "summarize: ", "generation_max_new_tokens": 24}
    saved = yaml.safe_load(open(client.predict(**options, api_name="/download_config")))
    assert (saved["max_target_length"], saved["source_prefix"], saved["generation_max_new_tokens"]) == (32, "summarize: ", 24), "the prefix keeps its space"
    command = client.predict(**options, api_name="/cli_command")
    assert "--max_target_length 32 --source_prefix 'summarize: ' --generation_max_new_tokens 24" in command


@pytest.mark.parametrize("task", ["text-classification", "seq2seq"])
def test_options_that_depend_on_the_task_left_out_of_an_api_call_get_its_own_defaults(client, task):
    saved = yaml.safe_load(open(client.predict(task=task, model_name_or_path="some/model", api_name="/download_config")))
    info = TASKS[task]
    assert (saved["learning_rate"], saved["per_device_train_batch_size"], saved["max_seq_length"]) == (info.default_learning_rate, info.default_train_batch_size, info.default_max_seq_length)
    assert saved["head_learning_rate"] == info.default_head_learning_rate
    assert saved["num_train_epochs"] == 3.0, "the others take the page's first values"


def test_the_estimate_for_two_processes(studio, lm):
    from finetuner.ui import services

    offered = services.processes_offered()
    if offered["maximum"] < 2:
        pytest.skip("this machine offers one training process")
    client = lm_session(studio, lm)
    options = {"model_name_or_path": str(lm[0]), "task": "causal-lm", **QUICK, "max_steps": -1, "num_train_epochs": 2, **LORA}
    one = client.predict(**options, processes=1, api_name="/estimate_training")
    two = client.predict(**options, processes=2, api_name="/estimate_training")

    def line(text, start):
        return next(row for row in text.splitlines() if row.startswith(start))

    from finetuner.estimate import plan_steps

    examples = int(re.search(r"from ([\d,]+) training examples", one).group(1).replace(",", ""))
    for text, processes in ((one, 1), (two, 2)):  # each step takes a batch on each process
        steps = int(re.search(r"Steps: ([\d,]+)", text).group(1).replace(",", ""))
        assert steps == plan_steps(examples, batch_size=8 * processes, accumulation=1, epochs=2)[1], text
    batch = [int(re.search(r"effective batch (\d+)", text).group(1)) for text in (one, two)]
    assert batch[1] == 2 * batch[0]
    assert "**2 processes**" in two and "processes**" not in one
    assert "LoRA trains" in one and "adapters only" in one
    if offered["device"] == "CPU":  # the processes share the cores and the memory: the same time, twice the memory
        assert line(one, "- **Time") == line(two, "- **Time")
        total_one = re.search(r"Memory: about ([^*]+)\*\*", one).group(1)
        assert f"other processes {total_one}" in line(two, "- **Memory"), (one, two)
        assert "share its cores" in two and "share its cores" not in one


def test_the_plan_counts_packed_sequences_as_training_does(studio, lm):
    client = lm_session(studio, lm)
    options = {"model_name_or_path": str(lm[0]), "task": "causal-lm", **QUICK, "max_steps": -1, "num_train_epochs": 1, "max_seq_length": 128}
    unpacked = client.predict(**options, packing=False, api_name="/training_plan")
    examples = int(re.search(r"Plan:\*\* (\d+) training examples: (\d+) optimizer steps", unpacked).group(1))
    plan = client.predict(**options, packing=True, api_name="/training_plan")
    planned = re.search(rf"Plan:\*\* {examples} training examples packed into (\d+) sequences: (\d+) optimizer steps an epoch", plan)
    assert planned and int(planned.group(1)) < examples, plan
    run_id, _, _ = client.predict(**options, packing=True, api_name="/start_training")
    final = follow_to_end(client, run_id)
    assert final["state"] == "completed", final
    assert any(line.endswith(f"Training on {examples} examples packed into {planned.group(1)} sequences.") for line in final["log"]), final["log"]
    assert final["step"] == int(planned.group(2)), "the run takes the steps the plan said"


def test_the_plan_and_the_estimate_leave_out_the_examples_training_leaves_out(studio, lm, tmp_path):
    """Examples whose prompt alone fills max_seq_length keep no answer token: training leaves them out. The plan
    counted them (and packed them into sequences), so it said more examples, sequences and steps than the run took,
    and the estimate estimated them too; with the Data tab's measured lengths both count only what training keeps."""
    records = make_instruction_records(48)
    for place in (3, 17, 30, 41):  # several, so that some land in the train split whatever the validation split takes
        records[place] = {**records[place], "instruction": "what colour is the apple? " * 40}
    client = Client(studio[0], verbose=False)
    client.predict(task="causal-lm", source="Upload files", train_file=handle_file(str(write_jsonl(tmp_path / "long.jsonl", records))), validation_file=None, test_file=None, api_name="/load_dataset")
    options = {"model_name_or_path": str(lm[0]), "task": "causal-lm", **QUICK, "max_steps": -1, "num_train_epochs": 1, "max_seq_length": 128}
    plan = client.predict(**options, packing=True, api_name="/training_plan")
    planned = re.search(r"Plan:\*\* (\d+) training examples packed into (\d+) sequences: (\d+) optimizer steps an epoch", plan)
    assert planned, plan
    estimate = client.predict(**options, packing=True, api_name="/estimate_training")
    run_id, _, _ = client.predict(**options, packing=True, api_name="/start_training")
    final = follow_to_end(client, run_id)
    assert final["state"] == "completed", final
    left = next(re.search(r"train: (\d+) of (\d+) example\(s\) left out", line) for line in final["log"] if "example(s) left out" in line)
    assert int(left.group(1)) > 0
    trained = int(left.group(2)) - int(left.group(1))
    assert any(line.endswith(f"Training on {trained} examples packed into {planned.group(2)} sequences.") for line in final["log"]), (plan, final["log"])
    assert int(planned.group(1)) == trained, plan
    assert final["step"] == int(planned.group(3)), "the run takes the steps the plan said"
    assert f"from {trained} training examples" in estimate, estimate
    assert f"{left.group(1)} of the {left.group(2)} examples are left out: their prompt fills max_seq_length 128" in plan, plan



def test_the_plan_says_about_how_many_are_left_out_when_it_counted_them_on_a_sample(studio, lm, tmp_path):
    """A big split's token lengths are measured on a sample (`services.MAX_STATS_ROWS` rows): the examples the plan
    says training leaves out are then a count scaled from the sample's, and were said as if exact."""
    from finetuner.ui import services

    records = make_instruction_records(services.MAX_STATS_ROWS * 7 // 5)  # its train split (80%) is over the limit
    for place in range(0, len(records), 10):
        records[place] = {**records[place], "instruction": "what colour is the apple? " * 40}
    client = Client(studio[0], verbose=False)
    client.predict(task="causal-lm", source="Upload files", train_file=handle_file(str(write_jsonl(tmp_path / "big.jsonl", records))), validation_file=None, test_file=None, api_name="/load_dataset")
    options = {"model_name_or_path": str(lm[0]), "task": "causal-lm", **QUICK, "max_steps": -1, "num_train_epochs": 1, "max_seq_length": 128}
    plan = client.predict(**options, packing=True, api_name="/training_plan")
    assert re.search(r"About [\d,]+ of the [\d,]+ examples are left out: their prompt fills max_seq_length 128", plan), plan


def test_the_plan_without_packing_leaves_out_what_training_leaves_out_once_lengths_are_measured(studio, lm, tmp_path):
    """With packing off the plan loads no tokenizer, so it counted every example, also those whose prompt fills
    max_seq_length, which training leaves out, beside an Estimate that had measured them. Once the lengths are
    measured (the Estimate here), the plan counts only what training keeps, as it does with packing on."""
    records = make_instruction_records(48)
    for place in (3, 17, 30, 41):
        records[place] = {**records[place], "instruction": "what colour is the apple? " * 40}
    client = Client(studio[0], verbose=False)
    client.predict(task="causal-lm", source="Upload files", train_file=handle_file(str(write_jsonl(tmp_path / "long-unpacked.jsonl", records))), validation_file=None, test_file=None, api_name="/load_dataset")
    options = {"model_name_or_path": str(lm[0]), "task": "causal-lm", **QUICK, "max_steps": -1, "num_train_epochs": 1, "max_seq_length": 128}
    before = client.predict(**options, packing=False, api_name="/training_plan")
    loaded = int(re.search(r"Plan:\*\* (\d+) training examples", before).group(1))
    assert "left out" not in before, "nothing measured yet: the plan measures nothing itself"
    estimate = client.predict(**options, packing=False, api_name="/estimate_training")
    trained = int(re.search(r"from (\d+) training examples", estimate).group(1))
    assert trained < loaded, estimate
    after = client.predict(**options, packing=False, api_name="/training_plan")
    assert re.search(rf"Plan:\*\* {trained} training examples: \d+ optimizer steps", after), after
    assert f"{loaded - trained} of the {loaded} examples are left out: their prompt fills max_seq_length 128" in after, after


def test_the_estimate_does_not_validate_the_examples_evaluation_leaves_out(studio, lm, tmp_path):
    """Evaluation, like training, leaves out the examples whose prompt fills max_seq_length (`tokenize` filters every
    split); the Estimate counted them among the examples to validate (and timed their evaluation)."""
    validation = make_instruction_records(12, seed=1)
    for place in (2, 5, 9):
        validation[place] = {**validation[place], "instruction": "what colour is the apple? " * 40}
    client = Client(studio[0], verbose=False)
    client.predict(
        task="causal-lm", source="Upload files", train_file=handle_file(str(lm[1])),
        validation_file=handle_file(str(write_jsonl(tmp_path / "long-validation.jsonl", validation))), test_file=None, api_name="/load_dataset",
    )
    options = {"model_name_or_path": str(lm[0]), "task": "causal-lm", **QUICK, "max_seq_length": 128, "eval_strategy": "epoch"}
    estimate = client.predict(**options, api_name="/estimate_training")
    assert "; 9 to validate" in estimate, estimate


def test_an_interrupted_run_says_what_happened_and_offers_resume(client, studio, lm):
    from finetuner.config import RunConfig
    from finetuner.runs import RunStore

    config = RunConfig.from_dict({"task": "causal-lm", "model_name_or_path": str(lm[0]), "train_file": str(lm[1]), **QUICK})
    run = RunStore(studio[1]).create(config)
    run.update_status(state="running", step=2, total_steps=4, exit_code=-9, exit_signal="SIGKILL")  # no process holds it: it died
    job = client.submit(run.id, api_name="/follow_run")
    outputs = list(job)[-1]
    snap, html = outputs[0], outputs[1]
    assert snap["state"] == "interrupted" and snap["done"]
    assert "killed (SIGKILL)" in html and "out-of-memory killer" in html and "per_device_train_batch_size" in html
    assert "Press <b>Resume</b>" in html
    assert snap["actions"] == ["resume", "retry_smaller_batch"], "Resume, and the retry with a batch that fits"

    details, *_ = client.predict(run.id, api_name="/run_details")
    assert "interrupted" in details and "out-of-memory killer" in details and "resume" in details.lower()


def test_start_refuses_prompts_that_leave_no_answer_before_a_run_exists(studio, lm):
    """At max_seq_length 8 every chat-templated prompt fills the length: Start started a run that failed on it while
    tokenizing; now Start says so and starts none. Estimate says it too (it estimated a run that would fail)."""
    client = lm_session(studio, lm)
    runs = set(studio[1].iterdir()) if studio[1].exists() else set()
    with pytest.raises(AppError, match="example\\(s\\) of train keeps any of its answer within max_seq_length 8"):
        client.predict(model_name_or_path=str(lm[0]), **{"task": "causal-lm", **QUICK, "max_seq_length": 8}, api_name="/estimate_training")
    with pytest.raises(AppError) as raised:
        client.predict(model_name_or_path=str(lm[0]), **{"task": "causal-lm", **QUICK, "max_seq_length": 8}, api_name="/start_training")
    assert "example(s) of train keeps any of its answer within max_seq_length 8" in str(raised.value) and "Raise max_seq_length" in str(raised.value)
    assert (set(studio[1].iterdir()) if studio[1].exists() else set()) == runs, "no failed run is left behind"


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({**LORA, "lora_r": 0}, "lora_r must be at least 1, got 0"),
        ({**LORA, "lora_alpha": -8}, "lora_alpha must be greater than 0, got -8"),
        ({**LORA, "lora_dropout": 1.5}, "lora_dropout must be between 0 and 1"),
        ({**LORA, "lora_target_modules": ["q_proj", "qkv"]}, "'qkv' is not a layer of"),
        ({**LORA, "task": "text-classification"}, "use_lora applies to the causal-lm task"),
        ({"processes": 999}, "Training processes must be between 1 and"),
        ({"extra_training_args": "max_grad_norm: abc"}, "max_grad_norm expects float, got 'abc'"),
        ({"processes": 1.5}, "Training processes must be a whole number, got '1.5'"),
        ({"extra_training_args": "num_train_epochs: 5"}, "num_train_epochs has its own option; set it there"),
    ],
)
def test_bad_values_get_clear_errors(studio, lm, options, words):
    client = lm_session(studio, lm)
    with pytest.raises(AppError) as raised:
        client.predict(model_name_or_path=str(lm[0]), **{"task": "causal-lm", **QUICK, **options}, api_name="/start_training")
    assert words in str(raised.value)
    assert "Traceback" not in str(raised.value)
    if "lora_target_modules" in options and "qkv" in options["lora_target_modules"]:
        assert "Its linear layers: q_proj, k_proj, v_proj" in str(raised.value), "the message offers the names that work"
        shown, _ = client.predict(str(lm[0]), "causal-lm", True, 4, 8, 0.1, options["lora_target_modules"], api_name="/lora_parameters")
        assert shown.startswith("⚠") and "qkv" in shown, "the count beside the field says so too"
