"""Runs tab: every run in the runs folder, its config, how to reproduce it, and two runs compared.

Endpoints: `/list_runs` (the runs table, the three run pickers' choices, and the "no runs yet" note shown
when there are none), `/run_details` (state and what happened, config, CLI command, config file), `/delete_run`,
`/compare_runs` (B's score minus A's on the same examples with a paired interval, curves side by side and a config diff). A stopped, failed or interrupted run can be
resumed from here (the Train tab then follows it).
"""

import shutil
import tempfile
from pathlib import Path

import gradio as gr
import pandas as pd

from .. import access, compare, launcher, plots
from ..errors import ConfigError, DataError
from ..follow import curves
from ..runs import ACTIVE_STATES, RESUMABLE_STATES
from ..tasks import curve_metrics
from . import ownership, render, services, tables
from .handlers import ui_errors
from .studio import StudioContext


# run, state, data, steps, metric, validation, test, learning rate, batch, started, duration, model: each header
# and short value ("completed", "accuracy") fits its column on one line on a desktop-wide page.
RUN_WIDTHS = ["16%", "8%", "11%", "6%", "7%", "9%", "5%", "8%", "6%", "7%", "8%", "9%"]


# On a shared studio a visitor lists only the runs they started: one started from a terminal belongs to nobody
# and never shows, and the server's runs folder is not theirs to know.
SHARED_HEADING = "### Your runs\nThe runs you started on this shared studio, newest first: other visitors' runs are not shown."
SHARED_NO_RUNS = "**No runs of yours yet.** To start one: load data in **1 · Data** (an example dataset is preselected), then press **Start training** in **2 · Train**."


def build_runs_tab(ctx: StudioContext) -> None:
    # On a shared studio nothing is built into the page (its config is the same for every visitor): lists fill per session.
    shared = ownership.is_shared(ctx)
    no_runs_note = SHARED_NO_RUNS if shared else services.no_runs_note(services.shown_runs_dir(ctx.runs_dir))
    with gr.Tab("Runs", id="runs") as tab:
        gr.Markdown(SHARED_HEADING if shared else "### All runs\nEvery run in the runs folder, newest first: started here, from another tab, or from the command line.")
        initial = services.runs_table(ctx.store, [] if shared else None)
        table = gr.Dataframe(value=initial, label="Runs", interactive=False, wrap=True, max_height=360, column_widths=RUN_WIDTHS, elem_classes="ft-runs")
        no_runs = gr.Markdown(no_runs_note, visible=not shared and initial.empty)
        refresh_button = gr.Button("↻ Refresh", size="sm")
        with gr.Row():
            with gr.Column():
                gr.Markdown("#### One run")
                run_picker = gr.Dropdown(ownership.initial_choices(ctx), value=None, label="Run", allow_custom_value=True)
                details = gr.Markdown()
                with gr.Row():
                    resume_button = gr.Button("Resume", size="sm", interactive=False)
                    retry_button = gr.Button("Retry with a smaller batch", size="sm", visible=False)
                    reuse_button = gr.Button("Use its settings", size="sm")
                    delete_button = gr.Button("Delete", size="sm", variant="stop", interactive=False)
                cli_box = gr.Code(label="Copy as CLI command", language="shell", lines=3, interactive=False, wrap_lines=True, elem_classes="ft-cli")
                config_box = gr.Code(label="config.yaml", language="yaml", lines=12, max_lines=20, interactive=False)
                config_file = gr.File(label="Download config", interactive=False)
            with gr.Column():
                gr.Markdown("#### Compare two runs")
                with gr.Row():
                    run_a = gr.Dropdown(ownership.initial_choices(ctx), value=None, label="Run A", allow_custom_value=True)
                    run_b = gr.Dropdown(ownership.initial_choices(ctx), value=None, label="Run B", allow_custom_value=True)
                compare_button = gr.Button("Compare", variant="primary")
                paired = gr.Markdown()
                compare_plot = gr.Plot(label="Curves")
                diff_table = gr.Dataframe(
                    headers=["option", "run A", "run B"], label="Config differences (a long path by its last parts: config.yaml has it whole)",
                    interactive=False, wrap=True, column_widths=["30%", "35%", "35%"], elem_classes="ft-wrap-anywhere",
                )

    def no_runs_update(runs, who):
        # A visitor a shared studio does not know (not signed in, or their 8-hour Space login ran out) may have runs.
        note = f"**Sign in to see your runs.** To sign in, {access.sign_in_hint()}." if shared and not who else no_runs_note
        return gr.Markdown(note, visible=not runs)

    @ui_errors
    def list_runs(request: gr.Request, profile: gr.OAuthProfile | None, oauth_token: gr.OAuthToken | None):
        """Every run (on a shared studio: the caller's own) with its state, key metrics and main options, newest first."""
        who = ownership.quiet_visitor(ctx, request, profile, oauth_token)
        runs = ownership.visible_runs(ctx, who)
        choices = services.run_choices(ctx.store, runs=runs)
        return services.runs_table(ctx.store, runs), gr.Dropdown(choices=choices), gr.Dropdown(choices=choices), gr.Dropdown(choices=choices), no_runs_update(runs, who)

    list_outputs = [table, run_picker, run_a, run_b, no_runs]
    refresh_button.click(list_runs, None, list_outputs, api_name="list_runs")

    def preselect(current_run, chosen, a, b, request: gr.Request, profile: gr.OAuthProfile | None, oauth_token: gr.OAuthToken | None):
        """Fill empty pickers: the page's run (or the newest) for details, the two newest to compare."""
        who = ownership.quiet_visitor(ctx, request, profile, oauth_token)
        runs = ownership.visible_runs(ctx, who)
        choices = services.run_choices(ctx.store, runs=runs)
        ids = [value for _, value in choices]
        one = chosen if chosen in ids else (current_run if current_run in ids else (ids[0] if ids else None))
        first = a if a in ids else (ids[1] if len(ids) > 1 else None)
        second = b if b in ids else (ids[0] if ids else None)
        return (
            services.runs_table(ctx.store, runs), gr.Dropdown(choices=choices, value=one), gr.Dropdown(choices=choices, value=first),
            gr.Dropdown(choices=choices, value=second), no_runs_update(runs, who),
        )

    tab.select(preselect, [ctx.current_run, run_picker, run_a, run_b], list_outputs, api_name="preselect_runs", api_visibility="private")

    @ui_errors
    def run_details(run_id, request: gr.Request, profile: gr.OAuthProfile | None, oauth_token: gr.OAuthToken | None):
        """A run's status, the CLI command that reproduces it, and its config (text and file); all empty when no
        run is chosen (an empty runs folder: the list says how to start one)."""
        if not run_id:
            return "", "", "", None
        run = ownership.owned_run(ctx, run_id, request, profile, oauth_token)
        status = run.status()
        facts = [f"**{run.id}** · {status.get('state')}"]
        try:
            config = run.config()
        except ConfigError as error:  # edited by hand: say so, and show the file to mend
            facts.append(f"its config.yaml cannot be read: {render.md_escape(str(error))} Mend the file in the run's folder (shown below).")
            return " · ".join(facts), "", run.config_path.read_text(encoding="utf-8"), None
        if status.get("error"):  # an error quotes user input (a path, a column, a model id): shown literally
            facts.append(f"error: {render.md_escape(status['error'])}")
        elif status.get("message"):
            facts.append(render.md_escape(status["message"]))
        path = Path(tempfile.mkdtemp(prefix="finetuner-config-")) / f"{run.id}.yaml"
        shutil.copyfile(run.config_path, path)
        command = services.cli_command(config, runs_dir=services.shown_runs_dir(ctx.runs_dir))
        command += f"\n# or, with the config file:\npython -m finetuner train {run.id}.yaml"
        return " · ".join(facts), command, run.config_path.read_text(encoding="utf-8"), str(path)

    run_picker.change(run_details, run_picker, [details, cli_box, config_box, config_file], api_name="run_details")

    def run_actions(run_id, request: gr.Request, profile: gr.OAuthProfile | None, oauth_token: gr.OAuthToken | None):
        """Resume for a stopped, failed or interrupted run; the smaller-batch retry when it may have run out of memory."""
        try:
            run = ownership.owned_run(ctx, run_id, request, profile, oauth_token)
        except Exception:  # noqa: BLE001 - no run chosen (or not this visitor's): nothing to offer
            return gr.Button(interactive=False), gr.Button(visible=False)
        retry = launcher.can_retry_with_smaller_batch(run)
        state = run.state
        return gr.Button(interactive=state in RESUMABLE_STATES), gr.Button(visible=retry, interactive=retry), gr.Button(interactive=state not in ACTIVE_STATES)

    run_picker.change(run_actions, run_picker, [resume_button, retry_button, delete_button], api_name="run_actions", api_visibility="private")

    @ui_errors
    def delete_run(run_id, current_run, request: gr.Request, profile: gr.OAuthProfile | None, oauth_token: gr.OAuthToken | None):
        """Delete a run's folder (model, checkpoints, evaluation, log) for good; a run that trains or waits in the
        queue is refused: stop it first. The page stops following it if it did. No run (the browser's question
        answered No): nothing happens."""
        if not run_id:
            return (gr.skip(),) * 7
        who = ownership.visitor(ctx, request, profile, oauth_token)
        run = ownership.owned_run(ctx, run_id, who=who, missing="Choose a run to delete.")
        ctx.store.delete(run.id)
        runs = ownership.visible_runs(ctx, who)
        choices = services.run_choices(ctx.store, runs=runs)
        return (
            services.runs_table(ctx.store, runs), gr.Dropdown(choices=choices, value=None), gr.Dropdown(choices=choices), gr.Dropdown(choices=choices),
            no_runs_update(runs, who), f"Deleted run **{render.md_escape(run.id)}**.", "" if current_run == run.id else gr.skip(),
        )

    # The browser asks first (an API call is its own confirmation); answered No, the handler gets no run.
    confirm = "(run, current) => [run && confirm(`Delete run ${run}? Its folder (model, checkpoints, evaluation) is removed for good.`) ? run : null, current]"
    delete_button.click(
        delete_run, [run_picker, ctx.current_run], [*list_outputs, details, ctx.current_run], js=confirm, api_name="delete_run",
    )

    def continue_run(action):
        @ui_errors
        def handler(run_id, request: gr.Request, profile: gr.OAuthProfile | None, oauth_token: gr.OAuthToken | None, typed_token: str | None = None):
            run = ownership.owned_run(ctx, run_id, request, profile, oauth_token, missing="Choose a run to resume.")
            yield "", gr.skip(), gr.skip(), gr.skip()  # the Train tab follows the run again once the id comes back
            try:
                action(run, token=ownership.visitor_token(oauth_token, typed_token))  # the visitor's reads, as at Start
            except Exception:
                yield run.id, gr.skip(), gr.skip(), gr.skip()
                raise
            what = "with a smaller batch" if action is launcher.retry_with_auto_batch_size else "from its last checkpoint"
            yield run.id, f"**{run.id}** · resumed {what}: the **Train** tab follows it.", gr.Button(interactive=False), gr.Button(visible=False)

        return handler

    resume_button.click(continue_run(launcher.resume_training), [run_picker, ctx.hub_token], [ctx.current_run, details, resume_button, retry_button], api_name="resume_selected_run", api_visibility="private", concurrency_id="launch")
    retry_button.click(continue_run(launcher.retry_with_auto_batch_size), [run_picker, ctx.hub_token], [ctx.current_run, details, resume_button, retry_button], api_name="retry_selected_run", api_visibility="private", concurrency_id="launch")

    use_settings, settings_outputs = ctx.components["use_run_settings"]

    def use_its_settings(run_id, loads, request: gr.Request, profile: gr.OAuthProfile | None, oauth_token: gr.OAuthToken | None, typed_token: str | None = None):
        """The chosen run's settings on the Train tab's form, and its data on the Data tab (`loads`: the session's data loads)."""
        result = use_settings(run_id, loads, request, profile, oauth_token, typed_token)
        gr.Info(f"The Train tab now holds the settings of run {run_id}.")
        return result

    reuse_button.click(use_its_settings, [run_picker, ctx.components["data_loads"], ctx.hub_token], settings_outputs, api_name="use_selected_run_settings", api_visibility="private")

    @ui_errors
    def compare_runs(run_a, run_b, request: gr.Request, profile: gr.OAuthProfile | None, oauth_token: gr.OAuthToken | None):
        """Two runs' score on the same examples with a paired interval (accuracy, entity F1 or ROUGE-L), their loss and F1
        curves on shared axes, and the options where their configs differ."""
        if not run_a or not run_b:
            raise DataError("Choose two runs to compare.")
        who = ownership.visitor(ctx, request, profile, oauth_token)
        a, b = ownership.owned_run(ctx, run_a, who=who), ownership.owned_run(ctx, run_b, who=who)
        metric = "eval_" + curve_metrics(a.config().model.task)[0]  # a classifier's macro F1, NER's entity F1, summarization's ROUGE-L, ...
        figure = plots.compare_curves({f"A {a.id}": curves(a.events()), f"B {b.id}": curves(b.events())}, metric=metric)
        rows = tables.shown_differences(compare.config_diff(a.config(), b.config()))
        diff = pd.DataFrame(rows or [["(none)", "same config", "same config"]], columns=["option", "run A", "run B"])
        return compare.describe(compare.paired_comparison(a, b)), figure, diff

    compare_button.click(compare_runs, [run_a, run_b], [paired, compare_plot, diff_table], api_name="compare_runs")
