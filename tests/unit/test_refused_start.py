"""A refused Start (an option out of range, the same settings as a run still training) cancels the page's follow of
its run all the same (`cancels` act in the browser as the click is sent): the progress card stood still while the run
trained on (seen in the studio after a second Start). The page now follows the run again: the Start's failure clears
the followed run and sets it back, and each change of it starts `follow_run` anew."""

from __future__ import annotations


def test_a_refused_start_follows_the_pages_run_again(tmp_path):
    from finetuner.ui.studio import build_studio

    demo = build_studio(tmp_path / "runs")
    fns = list(demo.fns.values())
    start = next(fn for fn in fns if fn.api_name == "start_training")
    follow = next(fn for fn in fns if fn.api_name == "follow_run")
    followed = follow.inputs[0]  # the run the page follows
    assert (followed._id, "change") in follow.targets

    on_failure = [fn for fn in fns if fn.trigger_after == start._id and fn.trigger_only_on_failure]
    assert len(on_failure) == 1, "a refused Start is answered"
    clear = on_failure[0]
    then = [fn for fn in fns if fn.trigger_after == clear._id]
    assert len(then) == 1
    restore = then[0]

    page = {followed._id: "run-1"}
    values = dict(zip((block._id for block in clear.outputs), clear.fn(*(page[block._id] for block in clear.inputs))))
    assert values[followed._id] is None  # a change: the follow of nothing (the card waits)
    page.update(values)
    values = dict(zip((block._id for block in restore.outputs), [restore.fn(*(page[block._id] for block in restore.inputs))]))
    assert values == {followed._id: "run-1"}  # a change again: follow_run streams run-1 anew
