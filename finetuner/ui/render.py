"""HTML and Markdown the studio shows, built from engine data. Pure functions, no gradio import.

Every piece of user or dataset text goes through `html.escape` (or `md_escape` for Markdown) before it
reaches the page: a review that contains `<script>` is shown as text, never run. Styles are inline so
the snippets look the same wherever they are rendered.
"""

from __future__ import annotations

import html
import math
import re
from typing import Any, Mapping, Sequence

from ..tasks import baseline_name, curve_metrics

# Pastel backgrounds cycled over ordinary tokens, so neighbouring tokens are told apart.
CHIP_COLORS = ["#e0e7ff", "#fef3c7", "#d1fae5", "#fce7f3", "#e0f2fe", "#ede9fe", "#fee2e2", "#ecfccb"]
STATE_STYLE = {
    "queued": ("#92400e", "#fef3c7", "Queued"),
    "running": ("#1e40af", "#dbeafe", "Training"),
    "completed": ("#065f46", "#d1fae5", "Completed"),
    "failed": ("#991b1b", "#fee2e2", "Failed"),
    "stopped": ("#374151", "#e5e7eb", "Stopped"),
    "interrupted": ("#9a3412", "#ffedd5", "Interrupted"),
}
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|~#])")


def esc(text: Any) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def md_escape(text: Any) -> str:
    """Text shown literally inside Markdown (file and column names come from users)."""
    return _MD_SPECIAL.sub(r"\\\1", "" if text is None else str(text))


def md_code(text: Any) -> str:
    """Inline code that survives backticks in the text."""
    value = "" if text is None else str(text)
    fence = "``" if "`" in value else "`"
    return f"{fence} {value} {fence}" if fence == "``" else f"`{value}`"


def duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "-"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def size(num_bytes: float | None) -> str:
    if num_bytes is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(num_bytes) < 1024 or unit == "TB":
            return f"{num_bytes:.0f} {unit}" if unit in ("B", "KB") else f"{num_bytes:.1f} {unit}"
        num_bytes /= 1024
    return "-"


def number(value: Any, digits: int = 4) -> str:
    if isinstance(value, bool) or value is None:
        return "-" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


# ---------------------------------------------------------------- dataset


def dataset_summary(source_name: str, report: Mapping[str, Any], label_names: Sequence[str], columns: Mapping[str, str], task_title: str = "Text classification", *, label_word: str = "classes") -> str:
    """Rows per split, the columns the task reads, and the classes (or tags: `label_word="tags"`)."""
    sizes = report.get("split_sizes", {})
    created = report.get("created_splits", [])
    if not created:
        created = [w.split(" ", 1)[0] for w in report.get("warnings", []) if "was split from train" in w]
    split_text = " · ".join(f"{md_escape(split)} **{n:,}**" + (" (split from train)" if split in created else "") for split, n in sizes.items())
    column_text = " · ".join(f"{md_escape(role.capitalize())}: {' + '.join(md_code(c) for c in str(column).split(' + '))}" for role, column in columns.items() if column)
    lines = [f"**{md_escape(source_name)}** · {sum(sizes.values()):,} rows: {split_text}", f"{md_escape(task_title)} · {column_text}"]
    if label_names:
        shown = ", ".join(md_code(n) for n in label_names[:12]) + (f" and {len(label_names) - 12} more" if len(label_names) > 12 else "")
        lines[-1] += f" · **{len(label_names)} {md_escape(label_word)}**: {shown}"
    return "\n\n".join(lines)


def data_checks(warnings: Sequence[str], *, balanced: str | None = "classes") -> str:
    """The data report's warnings as a readable list; information (created splits) apart from problems.
    `balanced`: what the report checks the balance of (classes, entity types), None for a task that writes text
    and has no classes to balance."""
    problems = [w for w in warnings if "was split from train" not in w]
    notes = [w for w in warnings if "was split from train" in w]
    lines = ["#### Data checks"]
    if problems:
        lines += [f"- ⚠ {md_escape(w)}" for w in problems]
    else:
        lines.append("- ✓ No problems found: no empty texts, no duplicates, no overlap between splits" + (f", {balanced} balanced." if balanced else "."))
    lines += [f"- ℹ {md_escape(w)}" for w in notes]
    return "\n".join(lines)


# ---------------------------------------------------------------- tokens


def _chip_row(tokens: Sequence[str], ids: Sequence[Any], inspection: Mapping[str, Any], *, annotate: Sequence[Any] | None = None) -> str:
    n = len(tokens)
    special = inspection.get("special_tokens_mask")
    if special is None and inspection.get("word_ids") is not None:  # NER: tokens outside every word are special
        special = [int(w is None) for w in inspection["word_ids"]]
    special = special or [0] * n
    mask = inspection.get("attention_mask") or [1] * n
    types = inspection.get("token_type_ids") or [0] * n
    loss = inspection.get("loss_mask")
    chips = []
    color = 0
    for i, (token, token_id) in enumerate(zip(tokens, ids)):
        if special[i]:
            style, ink = "background:#1f2937;border:1px solid #111827", "#f9fafb"
        else:
            style, ink = f"background:{CHIP_COLORS[color % len(CHIP_COLORS)]};border:1px solid rgba(0,0,0,.08)", "#111827"
            color += 1
        if types[i]:
            style += ";border-bottom:3px solid #f59e0b"
        if loss is not None and loss[i]:
            style += ";outline:2px solid #10b981;outline-offset:1px"
        if not mask[i]:
            style += ";opacity:.35"
        note = annotate[i] if annotate is not None and i < len(annotate) else None
        title = f"position {i} · id {token_id} · attention_mask {mask[i]} · token_type_id {types[i]}" + (" · special token" if special[i] else "")
        if loss is not None:
            title += f" · {'trained on (in the loss)' if loss[i] else 'not in the loss'}"
        if note not in (None, ""):
            title += f" · label {note}"
        under = esc(token_id) + (f" · {esc(note)}" if note not in (None, "") else "")
        chips.append(
            f'<span class="ft-chip" title="{esc(title)}" style="display:inline-flex;flex-direction:column;align-items:center;'
            f'margin:2px;padding:2px 6px;border-radius:6px;font-family:ui-monospace,monospace;{style}">'
            f'<span style="font-size:13px;white-space:pre;color:{ink}">{esc(token)}</span>'
            f'<span style="font-size:10px;opacity:.75;color:{ink}">{under}</span></span>'
        )
    return "".join(chips)


def token_chips(inspection: Mapping[str, Any]) -> str:
    """One chip per token with its id below; special tokens dark, the second segment (token type 1)
    underlined, tokens in the loss outlined green (causal LM), a token's training label beside its id
    (NER), attention-masked tokens faded; a scissors mark where truncation cut, then the dropped text;
    seq2seq targets as a second row."""
    tokens = inspection["tokens"]
    labels = inspection.get("labels")
    annotate = labels if labels and any(isinstance(v, str) for v in labels) else None
    parts = [f'<div class="ft-tokens" style="line-height:1.2">{_chip_row(tokens, inspection["input_ids"], inspection, annotate=annotate)}']
    if inspection.get("truncated"):
        lost = inspection["num_tokens_untruncated"] - inspection["num_tokens"]
        parts.append(
            f'<span class="ft-cut" style="display:inline-block;margin:2px 4px;padding:4px 8px;border-radius:6px;'
            f'background:#fee2e2;color:#991b1b;font-weight:600">✂ cut at max_length {esc(inspection.get("max_length"))}: '
            f'{lost} token{"s" if lost != 1 else ""} dropped</span>'
        )
        if inspection.get("dropped_text"):
            parts.append(f'<div class="ft-dropped" style="margin-top:6px;color:#991b1b;text-decoration:line-through;opacity:.8">{esc(inspection["dropped_text"])}</div>')
    parts.append("</div>")
    if inspection.get("target_tokens"):
        target = inspection["target_tokens"]
        parts.append('<div style="margin-top:8px;font-size:12px;color:#6b7280">Target (what the decoder learns to write):</div>')
        parts.append(f'<div class="ft-tokens ft-target" style="line-height:1.2">{_chip_row(target, inspection.get("labels") or [""] * len(target), {})}</div>')
    legend = ['<span style="background:#1f2937;color:#fff;padding:0 5px;border-radius:4px">dark</span> special token']
    if any(inspection.get("token_type_ids") or []):
        legend.append('<span style="border-bottom:3px solid #f59e0b">underlined</span> second text (token_type_id 1)')
    if inspection.get("loss_mask") is not None:
        legend.append('<span style="outline:2px solid #10b981;padding:0 3px">outlined</span> in the loss (the answer)')
    legend.append("number under a token: its input id" + (" · its training label" if annotate else ""))
    legend.append("hover a token for its masks")
    parts.append(f'<div style="margin-top:8px;font-size:12px;color:#6b7280">{" · ".join(legend)}</div>')
    return "".join(parts)


def token_summary(inspection: Mapping[str, Any], label: str | None = None) -> str:
    n, full, max_length = inspection["num_tokens"], inspection["num_tokens_untruncated"], inspection["max_length"]
    special = sum(inspection.get("special_tokens_mask") or [])
    head = f"**{n} tokens**" + (f" (of which {special} special)" if special else "") + f" · max_length {max_length}"
    if inspection.get("truncated"):
        head += f" · ✂ **truncated**: the text has {full} tokens, the model sees the first {n}"
    else:
        head += " · fits without truncation"
    if inspection.get("words") is not None:
        head += f" · {len(inspection['words'])} words"
        if inspection.get("truncated_words"):
            head += f", **{inspection['truncated_words']} cut off** (their tags are not learned)"
    if inspection.get("loss_tokens") is not None:
        head += f" · {inspection['loss_tokens']} token(s) in the loss"
        if inspection.get("loss_scope"):
            head += f" ({md_escape(inspection['loss_scope'])})"
    if inspection.get("left_out"):
        head += " · **left out of training**: the prompt fills max_length, so no token of the answer is left to learn"
    if inspection.get("target_truncated"):
        head += f" · the target is cut at max_target_length {inspection.get('max_target_length')}"
    if label is not None:
        head += f" · label {md_code(label)}"
    if inspection.get("template"):
        head += f" · rendered with {md_escape(inspection['template'])}"
    return head


MAX_PACKED_PIECES = 12  # the pieces of a packed sequence listed; a long one of short examples says how many more


def packing_summary(packing: Mapping[str, Any], rows: list[int] | None = None) -> str:
    """How packing treats the training data and where the inspected example lands (`causal_lm.packing_of`), with
    each example named by its row in the file (`rows`: train's rows by place; else by its place in train)."""

    def name(example: int) -> str:
        if example == packing["example"]:
            return "**this example**"
        return f"row {rows[example] if rows and example < len(rows) else example}"

    head = (
        f"**Packing** (TRL's {md_code(packing['strategy'])} packing at max_length {packing['max_length']}): the "
        f"{packing['examples']:,} training examples make **{packing['sequences']:,} packed sequences**, "
        f"{packing['fill']:.1%} of their {packing['sequences'] * packing['max_length']:,} token slots real tokens."
    )
    if not packing["landed"]:
        return head + " This example is in none of them: training leaves it out."
    lines = [head + (" This example lands in:" if len(packing["landed"]) == 1 else f" This example is cut across {len(packing['landed'])} sequences:")]
    for landed in packing["landed"]:
        pieces = landed["pieces"]
        shown = [f"{piece['at']}–{piece['at'] + piece['end'] - piece['start'] - 1}: {name(piece['example'])} (its tokens {piece['start']}–{piece['end'] - 1})" for piece in pieces[:MAX_PACKED_PIECES]]
        more = f" · … {len(pieces) - MAX_PACKED_PIECES} more example(s)" if len(pieces) > MAX_PACKED_PIECES else ""
        lines.append(f"- sequence {landed['sequence'] + 1} of {packing['sequences']:,} ({landed['length']} tokens): " + " · ".join(shown) + more)
    if packing.get("attends_across"):
        lines.append(
            "Its tokens attend to the examples before them in the sequence: this packing keeps one attention mask and one "
            "run of positions over the whole sequence, and cuts an example where a sequence ends."
        )
    elif packing["strategy"] in ("bfd", "bfd_split"):
        lines.append(
            "Its tokens attend only to its own: this packing puts whole examples into sequences, longest first where they "
            "fit best, and trains padding-free, the positions starting again at each example."
        )
    return "\n".join(lines)


def token_frame(inspection: Mapping[str, Any]):
    """One row per token: position, token, id, and whichever masks and labels the task has."""
    import pandas as pd  # noqa: PLC0415

    tokens = inspection["tokens"]
    columns: dict[str, Any] = {"position": list(range(len(tokens))), "token": list(tokens), "id": list(inspection["input_ids"])}
    for key in ("attention_mask", "token_type_ids", "special_tokens_mask", "loss_mask"):
        if inspection.get(key) is not None:
            columns[key] = list(inspection[key])
    if inspection.get("word_ids") is not None:
        columns["word"] = pd.array(list(inspection["word_ids"]), dtype="Int64")
    labels = inspection.get("labels")
    if labels is not None and len(labels) == len(tokens):
        columns["label"] = ["" if v is None else v for v in labels]
    return pd.DataFrame(columns)


ENTITY_COLORS = ["#c7d2fe", "#fde68a", "#a7f3d0", "#fbcfe8", "#bae6fd", "#ddd6fe", "#fecaca", "#d9f99d"]


def _entity_type(tag: str) -> str | None:
    return tag.split("-", 1)[1] if "-" in tag and tag[:2] in ("B-", "I-", "E-", "S-", "L-", "U-") else None


def word_tags(inspection: Mapping[str, Any]) -> str:
    """NER: each word with its tag above the sub-tokens it became. The sub-token that carries the word's
    tag in training shows it; the others are marked 'ignored' (label -100), unless every sub-token is
    trained; words that max_length cut off are crossed out."""
    words = inspection.get("words") or []
    if not words:
        return ""
    tokens, word_ids = inspection.get("tokens") or [], inspection.get("word_ids") or []
    labels = inspection.get("labels") or [None] * len(tokens)
    pieces: dict[int, list[tuple[str, Any]]] = {}
    for token, word, label in zip(tokens, word_ids, labels):
        if word is not None:
            pieces.setdefault(word, []).append((token, label))
    types = sorted({t for w in words if (t := _entity_type(str(w.get("tag", ""))))})
    colors = {t: ENTITY_COLORS[i % len(ENTITY_COLORS)] for i, t in enumerate(types)}
    cards = []
    for i, word in enumerate(words):
        tag = str(word.get("tag", ""))
        kind = _entity_type(tag)
        background = colors.get(kind, "#f3f4f6")
        sub = []
        for token, label in pieces.get(i, []):
            if label is None:
                sub.append(f'<span class="ft-sub ft-ignored" title="not in the loss (label -100)" style="padding:0 4px;border-radius:4px;border:1px dashed #9ca3af;color:#6b7280;font-size:11px">{esc(token)} <i>ignored</i></span>')
            else:
                sub.append(f'<span class="ft-sub" title="trained on {esc(label)}" style="padding:0 4px;border-radius:4px;background:#fff;border:1px solid #6b7280;font-size:11px">{esc(token)} → <b>{esc(label)}</b></span>')
        if word.get("truncated"):
            sub.append('<span style="font-size:11px;color:#991b1b">✂ cut off by max_length</span>')
        cards.append(
            f'<span class="ft-word" style="display:inline-flex;flex-direction:column;gap:2px;margin:3px;padding:4px 6px;border-radius:8px;background:{background};'
            f'{"text-decoration:line-through;opacity:.6;" if word.get("truncated") else ""}font-family:ui-monospace,monospace">'
            f'<span style="font-size:11px;font-weight:600;color:#374151">{esc(tag)}</span>'
            f'<span style="font-size:14px">{esc(word.get("word"))}</span>'
            f'<span style="display:flex;gap:2px;flex-wrap:wrap">{"".join(sub)}</span></span>'
        )
    legend = " · ".join(f'<span style="background:{colors[t]};padding:0 5px;border-radius:4px">{esc(t)}</span>' for t in types)
    return (
        '<div class="ft-word-tags" style="margin-bottom:10px"><div style="font-size:12px;color:#6b7280;margin-bottom:4px">'
        f"Words and their tags, with the sub-tokens each word became (→ the label a sub-token is trained on){' · entity types: ' + legend if legend else ''}</div>"
        f'<div style="line-height:1.2">{"".join(cards)}</div></div>'
    )


def rendered_text(inspection: Mapping[str, Any]) -> str:
    """The text the model reads, as rendered: the chat or plain template around a causal-LM example (the
    part that carries loss highlighted), or a seq2seq document with its prefix."""
    text = inspection.get("rendered")
    if not text:
        return ""
    spans = sorted((int(a), int(b)) for a, b in inspection.get("loss_spans") or [] if 0 <= a < b <= len(text))
    parts, at = [], 0
    for start, end in spans:
        if start < at:
            continue
        parts.append(esc(text[at:start]))
        parts.append(f'<mark class="ft-loss" title="carries loss" style="background:#d1fae5;color:inherit;outline:1px solid #10b981;border-radius:3px">{esc(text[start:end])}</mark>')
        at = end
    parts.append(esc(text[at:]))
    if inspection.get("loss_mask") is not None:
        title = f"The example rendered with {esc(inspection.get('template') or 'the template')}"
        title += ": <mark style='background:#d1fae5;outline:1px solid #10b981'>green</mark> is the part that carries loss (what the model learns to write)" if spans else ""
    else:
        title = "The encoder's input (the document, with the source prefix)"
    return (
        f'<div class="ft-rendered" style="margin-bottom:10px"><div style="font-size:12px;color:#6b7280;margin-bottom:4px">{title}</div>'
        f'<pre style="white-space:pre-wrap;margin:0;padding:8px;border:1px solid #e5e7eb;border-radius:8px;background:#f9fafb;font-size:13px">{"".join(parts)}</pre></div>'
    )


def inspection_html(inspection: Mapping[str, Any]) -> str:
    """Everything the inspector shows for one example: the rendered text (generative tasks), the words and
    their tags (NER), then the token chips."""
    return rendered_text(inspection) + word_tags(inspection) + token_chips(inspection)


# ---------------------------------------------------------------- estimate


def parameters(count: int | None) -> str:
    if not count:
        return "-"
    if count >= 1e9:
        return f"{count / 1e9:.1f} B"
    if count >= 1e6:
        return f"{count / 1e6:.1f} M"
    return f"{count / 1e3:.0f} K"


PRECISION_NAMES = {
    "bf16": "bf16 mixed precision (float32 weights, bf16 matrix products; `bf16: false` in the extra options trains in float32)",
    "fp16": "fp16 mixed precision",
    "fp32": "float32",
}


def estimate_markdown(estimate: Mapping[str, Any]) -> str:
    e = estimate
    lines = [
        f"- **Time: about {duration(e.get('seconds'))}** on {md_escape(e.get('machine'))} ({md_escape(e.get('rate_source'))})",
        f"- Precision: {PRECISION_NAMES.get(e.get('precision'), 'float32')}",
    ]
    if e.get("memory_bytes"):
        parts = ", ".join(f"{k} {size(v)}" for k, v in e.get("memory_breakdown", {}).items())
        free = f" of {size(e['available_bytes'])} free" if e.get("available_bytes") else ""
        lines.append(f"- **Memory: about {size(e['memory_bytes'])}**{free} ({parts})")
    packed = f" packed into {e['train_sequences']:,} sequences" if e.get("train_sequences") is not None else ""
    lines += [
        f"- **Steps: {e['total_steps']:,}** = {e['steps_per_epoch']:,} per epoch × {e['epochs']:.1f} epochs, effective batch {e['batch_size']}; {e['evaluations']} evaluation(s)",
        f"- **Tokens: {e['train_tokens']:,}** ({e['tokens_per_example']:.0f} per example, {e['padded_tokens']:,} with padding) from {e['train_examples']:,} training examples{packed}; {e['eval_examples']:,} to validate",
    ]
    if e.get("parameters"):
        lines.append(f"- Model: {parameters(e['parameters'])} parameters")
    if e.get("disk_bytes"):
        free = f" ({size(e['disk_free_bytes'])} free)" if e.get("disk_free_bytes") is not None else ""
        lines.append(f"- Disk: up to {size(e['disk_bytes'])} for its checkpoints and model{free}")
    out = "\n".join(lines)
    if e.get("warnings"):
        out += "\n\n" + "\n".join(f"⚠ {md_escape(w)}" for w in e["warnings"])
    return out


def lora_summary(counts: Mapping[str, Any], targets: Sequence[str] | None = None) -> str:
    """'LoRA trains 1.2 M of 135.7 M parameters (0.87%)', with the exact counts (peft's, before launch)."""
    trainable, total = int(counts["trainable_parameters"]), int(counts["total_parameters"])
    share = trainable / total if total else 0.0
    where = ", ".join(md_code(t) for t in targets) if targets else "every linear layer but the output head"
    return (
        f"**LoRA trains {parameters(trainable)} of {parameters(total)} parameters ({share:.2%})**: {trainable:,} adapter weights on "
        f"{where}; the other {total - trainable:,} of {total:,} stay frozen."
    )


def estimate_setup(*, processes: int = 1, device: str = "CPU", lora: Mapping[str, Any] | None = None) -> str:
    """What the estimate assumed beyond the options: several processes, LoRA (Markdown lines, or '')."""
    lines = []
    if processes > 1:
        how = "one GPU each" if device == "GPU" else "sharing this CPU's cores and memory"
        lines.append(f"- **{processes} processes**, {how}: the steps, effective batch, time and memory above are for all of them")
    if lora:
        lines.append(f"- {lora_summary(lora)} Gradients and optimizer state are kept for the adapters only.")
    return "\n".join(lines)


def interrupted_note(message: str, *, memory_may_have_ended: bool) -> str:
    """Why a run was interrupted (its process died without recording its end) and what to do, as HTML. The
    retry with a smaller batch is named only where the page offers it (not after a Space restart or a full disk)."""
    retry = ", or <b>Retry with a smaller batch</b> if it ran out of memory" if memory_may_have_ended else ""
    return (
        '<div class="ft-interrupted" style="margin-top:10px;padding:10px;border-radius:8px;background:#ffedd5;color:#7c2d12">'
        f"<b>Interrupted:</b> {esc(message)}<br>Press <b>Resume</b> to continue from the last checkpoint{retry}.</div>"
    )


# ---------------------------------------------------------------- progress


def progress_card(snap: Mapping[str, Any] | None, *, queue_note: str | None = None) -> str:
    """The live run's state, progress bar, ETA, throughput and latest numbers; the error when it failed."""
    if not snap:
        return (
            '<div style="padding:14px;border:1px dashed #d1d5db;border-radius:10px;color:#6b7280">'
            "No run selected. Set the options and press <b>Start training</b>, or pick a run above.</div>"
        )
    state = snap.get("state", "interrupted")
    fg, bg, word = STATE_STYLE.get(state, ("#374151", "#e5e7eb", state))
    finishing = state == "running" and snap.get("phase") == "finishing"  # past the last step: saving and scoring the model
    if finishing:
        word = "Finishing"
    fraction = snap.get("fraction") or 0.0
    bar_color = {"failed": "#ef4444", "stopped": "#9ca3af", "interrupted": "#f97316", "queued": "#f59e0b"}.get(state, "#4f46e5" if state == "running" else "#10b981")
    facts = []
    if snap.get("total_steps"):
        facts.append(f"step {snap.get('step', 0)}/{snap['total_steps']}")
    if snap.get("epoch") is not None:
        facts.append(f"epoch {snap['epoch']:.2f}")
    if state == "running" and not finishing and snap.get("eta_seconds") is not None:
        facts.append(f"ETA {duration(snap['eta_seconds'])}")
    if snap.get("elapsed_seconds") is not None:
        facts.append(f"elapsed {duration(snap['elapsed_seconds'])}")
    if snap.get("tokens_per_second"):
        facts.append(f"{snap['tokens_per_second']:.0f} tokens/s")
    numbers = []
    if snap.get("latest_loss") is not None:
        numbers.append(f"train loss <b>{snap['latest_loss']:.4f}</b>")
    latest_eval = snap.get("latest_eval") or {}
    scores = curve_metrics(snap["task"]) if snap.get("task") else ()
    for key in ("eval_loss", *(f"eval_{m}" for m in scores)):
        if latest_eval.get(key) is not None:
            numbers.append(f"{key.replace('_', ' ')} <b>{latest_eval[key]:.4f}</b>")
    message = snap.get("message") or ""
    if state == "interrupted":  # the explanation gets its own box below
        message, explanation = "The training process ended without finishing.", message
    phase_message = message if finishing else ""
    if finishing:  # said under the bar instead
        message = ""
    parts = [
        '<div class="ft-progress" style="padding:14px;border:1px solid #e5e7eb;border-radius:10px">',
        '<div style="display:flex;align-items:center;gap:10px;flex-wrap:wrap">',
        f'<span class="ft-state" style="background:{bg};color:{fg};padding:2px 10px;border-radius:999px;font-weight:600">{esc(word)}</span>',
        f'<span style="font-family:ui-monospace,monospace;font-size:13px">{esc(snap.get("run_id"))}</span>',
        f'<span style="color:#6b7280">{esc(message)}</span></div>',
        f'<div role="progressbar" aria-valuenow="{fraction * 100:.0f}" aria-valuemin="0" aria-valuemax="100" '
        f'style="margin:10px 0 6px;height:14px;background:#f3f4f6;border-radius:7px;overflow:hidden">'
        f'<div style="width:{fraction * 100:.1f}%;height:100%;background:{bar_color};transition:width .4s"></div></div>',
        f'<div style="display:flex;justify-content:space-between;flex-wrap:wrap;gap:8px;font-size:13px">'
        f'<span><b>{fraction:.0%}</b> · {esc(" · ".join(facts))}</span><span>{" · ".join(numbers)}</span></div>',
    ]
    if finishing and phase_message:  # a minute or more with the bar full: say what it is doing, under the bar
        parts.append(f'<div class="ft-phase" style="margin-top:8px;color:#1e40af">{esc(phase_message)}</div>')
    if queue_note and state == "queued":
        parts.append(f'<div style="margin-top:8px;color:#92400e">{esc(queue_note)}</div>')
    if snap.get("error"):
        parts.append(f'<div style="margin-top:10px;padding:10px;border-radius:8px;background:#fee2e2;color:#991b1b"><b>Error:</b> {esc(snap["error"])}</div>')
    if state == "interrupted":
        parts.append(interrupted_note(explanation, memory_may_have_ended=bool(snap.get("memory_may_have_ended"))))
    elif state == "stopped":
        parts.append('<div style="margin-top:8px;color:#374151">Press <b>Resume</b> to continue from the last checkpoint.</div>')
    if state == "completed":
        metrics = snap.get("metrics") or {}
        shown = " · ".join(f"{esc(k.replace('_', ' '))} <b>{v:.4f}</b>" for k, v in metrics.items() if isinstance(v, (int, float)) and not k.endswith("loss"))
        parts.append(f'<div style="margin-top:8px;color:#065f46">Done. {shown}. See the <b>Evaluate</b> and <b>Try it</b> tabs.</div>')
    parts.append("</div>")
    return "".join(parts)


# ---------------------------------------------------------------- evaluation (per task)

# The metrics the Evaluate tab's table shows, per task, in this order (those the report has).
EVAL_METRICS = {
    "text-classification": ("accuracy", "f1_macro", "loss", "precision_macro", "recall_macro", "f1_weighted", "roc_auc", "average_precision"),
    "token-classification": ("f1", "precision", "recall", "accuracy", "loss"),
    "causal-lm": ("loss", "perplexity", "rouge1", "rouge2", "rougeL", "rougeLsum", "bleu", "gen_words"),
    "seq2seq": ("rouge1", "rouge2", "rougeL", "rougeLsum", "bleu", "gen_len", "gen_words", "loss"),
}
_ABOUT = {
    "accuracy": "share of examples given the right label",
    "f1_macro": "F1 averaged over the classes, each class counting the same",
    "precision_macro": "precision averaged over the classes",
    "recall_macro": "recall averaged over the classes",
    "f1_weighted": "F1 averaged over the classes, weighted by their support",
    "roc_auc": "area under the ROC curve (1 is perfect, 0.5 is chance)",
    "average_precision": "area under the precision-recall curve",
    "loss": "the training objective on this split (lower is better)",
    "rouge1": "word overlap with the reference (F-measure, 0-1)",
    "rouge2": "word-pair overlap with the reference (0-1)",
    "rougeL": "longest common word sequence with the reference (0-1)",
    "rougeLsum": "ROUGE-L sentence by sentence, over the whole text (0-1)",
    "bleu": "n-gram precision against the reference, corpus BLEU (sacreBLEU, 0-100)",
    "gen_len": "mean length of the generated texts, in tokens",
    "gen_words": "mean length of the generated texts, in words",
}
_ABOUT_BY_TASK = {
    "token-classification": {
        "f1": "entity-level F1: an entity counts when its type, first and last word are all right",
        "precision": "share of the predicted entities that are right",
        "recall": "share of the true entities found",
        "accuracy": "share of words given the right tag (O included)",
    },
    "causal-lm": {
        "loss": "mean negative log-likelihood per answer token (lower is better)",
        "perplexity": "exp(loss): the model's uncertainty per answer token (lower is better, 1 is perfect)",
        "rouge1": "word overlap of the generated answers with the references (sample, 0-1)",
        "rouge2": "word-pair overlap of the generated answers with the references (sample, 0-1)",
        "rougeL": "longest common word sequence, generated answer vs reference (sample, 0-1)",
        "rougeLsum": "ROUGE-L sentence by sentence (sample, 0-1)",
        "bleu": "n-gram precision of the generated answers, corpus BLEU (sample, 0-100)",
    },
}


def metric_about(task: str, name: str) -> str:
    """One line on what a metric measures, in the task's terms."""
    return _ABOUT_BY_TASK.get(task, {}).get(name) or _ABOUT.get(name, "")


def _rounded(value: Any, digits: int = 4) -> Any:
    return round(value, digits) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def metric_table(task: str, metrics: Mapping[str, Any], baselines: Mapping[str, Mapping[str, Any]] | None = None, intervals: Mapping[str, Any] | None = None, level: float = 0.95):
    """The Evaluate tab's metric table: one row per metric of the task (those present), the model's value,
    its confidence interval where the report has one (`finetuner.intervals`), one column per
    baseline scored on the same split, and what the metric measures."""
    import pandas as pd  # noqa: PLC0415

    from ..intervals import interval_text  # noqa: PLC0415

    baselines = baselines or {}
    names = [n for n in EVAL_METRICS.get(task, EVAL_METRICS["text-classification"]) if isinstance(metrics.get(n), (int, float))]
    rows = [
        [name, _rounded(metrics.get(name)), *([interval_text(intervals.get(name))] if intervals else []), *(_rounded(b.get(name)) for b in baselines.values()), metric_about(task, name)]
        for name in names
    ]
    interval_column = [f"{level:.0%} interval"] if intervals else []
    return pd.DataFrame(rows, columns=["metric", "model", *interval_column, *(baseline_name(n) for n in baselines), "what it measures"])


def per_type_table(report: Mapping[str, Any]):
    """NER: one row per entity type with its entity-level precision, recall, F1 and number of true entities."""
    import pandas as pd  # noqa: PLC0415

    per_type = report.get("per_type") or []
    rows = [{"type": name, **values} for name, values in per_type.items()] if isinstance(per_type, Mapping) else [dict(r) for r in per_type]
    frame = pd.DataFrame([{"entity type": r.get("type", r.get("label")), "precision": r.get("precision"), "recall": r.get("recall"), "f1": r.get("f1"), "true entities": r.get("support")} for r in rows])
    return frame.round(4) if len(frame) else pd.DataFrame(columns=["entity type", "precision", "recall", "f1", "true entities"])


GENERATION_COLUMNS = {"prompt": "prompt", "document": "document", "reference": "reference", "generated": "generated", "base_generated": "base model (before)", "rougeL": "ROUGE-L"}


def generations_table(frame, *, limit: int | None = None):
    """Generative tasks: the prompt (causal LM) or document (seq2seq), the reference, the fine-tuned model's
    text and, where it was kept, the base model's, with each row's ROUGE-L; in the order of the data."""
    import pandas as pd  # noqa: PLC0415

    if frame is None or len(frame) == 0:
        return pd.DataFrame(columns=["prompt", "reference", "generated"])
    shown = frame[[c for c in GENERATION_COLUMNS if c in frame.columns]].rename(columns=GENERATION_COLUMNS)
    if "ROUGE-L" in shown:
        shown = shown.assign(**{"ROUGE-L": pd.to_numeric(shown["ROUGE-L"], errors="coerce").round(3)})
    return shown.head(limit) if limit else shown


def _change(base: Any, tuned: Any) -> str:
    if not isinstance(base, (int, float)) or not isinstance(tuned, (int, float)) or not base:
        return ""
    return f"{tuned / base - 1:+.1%}"


def comparison_table(comparison: Mapping[str, Any]):
    """Causal LM before/after (`eval/comparison.json`): perplexity and loss on the validation split and on
    the general-text sample (forgetting), and the generation scores, base model against fine-tuned."""
    import pandas as pd  # noqa: PLC0415

    rows = []
    parts = (("validation", "validation"), ("general_text", "general text"))
    for key, where in parts:
        part = comparison.get(key) or {}
        base, tuned = part.get("base") or {}, part.get("fine_tuned") or {}
        for metric in ("perplexity", "loss"):
            if isinstance(base.get(metric), (int, float)) or isinstance(tuned.get(metric), (int, float)):
                rows.append([f"{metric} on {where}", _rounded(base.get(metric)), _rounded(tuned.get(metric)), _change(base.get(metric), tuned.get(metric))])
    validation = comparison.get("validation") or {}
    base, tuned = validation.get("base") or {}, validation.get("fine_tuned") or {}
    for metric in ("rougeL", "bleu"):
        if isinstance(base.get(metric), (int, float)) and isinstance(tuned.get(metric), (int, float)):
            rows.append([f"{metric} on validation answers", _rounded(base[metric]), _rounded(tuned[metric]), f"{tuned[metric] - base[metric]:+.3f}"])
    return pd.DataFrame(rows, columns=["measure", "base model", "fine-tuned", "change"])


def forgetting_note(comparison: Mapping[str, Any]) -> str:
    """One sentence on what the general-text perplexity says about forgetting (Markdown)."""
    general = comparison.get("general_text") or {}
    base, tuned = (general.get("base") or {}).get("perplexity"), (general.get("fine_tuned") or {}).get("perplexity")
    if not isinstance(base, (int, float)) or not isinstance(tuned, (int, float)):
        return ""
    change = tuned / base - 1 if base else 0.0
    if change > 0.05:
        verdict = "the model forgot some general language"
    elif change < -0.05:
        verdict = "general text got easier too"
    else:
        verdict = "general language is kept"
    return f"general-text perplexity {base:,.1f} → {tuned:,.1f} (**{change:+.1%}**: {verdict})"
