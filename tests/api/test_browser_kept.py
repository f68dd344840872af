"""What the page keeps in the browser (the followed run, the loaded data, the Train form) outlives an app restart."""

from __future__ import annotations


def test_a_restarted_studio_reads_what_the_browser_kept(tmp_path):
    """Each value the browser keeps is encrypted with a key from the runs folder, not one drawn at each start
    (which would leave a restarted studio unable to read them). The reload itself is in the browser journey."""
    import gradio as gr

    from finetuner.ui.studio import build_studio

    def keys(demo) -> dict[str, str]:
        return {block.storage_key: block.secret for block in demo.blocks.values() if isinstance(block, gr.BrowserState)}

    first, restarted = keys(build_studio(tmp_path / "runs")), keys(build_studio(tmp_path / "runs"))
    assert set(first) == {"finetuner-followed-run", "finetuner-dataset", "finetuner-train-form"}
    assert restarted == first
    assert keys(build_studio(tmp_path / "other-runs"))["finetuner-dataset"] != first["finetuner-dataset"]
