"""Launch the finetuner studio: `python app.py` and open the printed address.

    python app.py [--host 0.0.0.0] [--port 7860] [--share] [--auth user:password] [--runs-dir runs]

Works offline as is: the bundled model and the example dataset are preselected. torch and
transformers load with the first request, not at start, so the page is up in seconds.
"""

from __future__ import annotations

import argparse
import os


def parse_args(argv=None) -> argparse.Namespace:
    from finetuner.access import default_runs_dir  # light: no gradio, no torch

    parser = argparse.ArgumentParser(description="The finetuner studio: fine-tune Hugging Face models in the browser.")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"), help="Address to listen on (0.0.0.0 for every interface; default 127.0.0.1).")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)), help="Port (default 7860).")
    parser.add_argument("--share", action="store_true", help="Also open a temporary public link through Gradio's share servers.")
    parser.add_argument("--runs-dir", default=default_runs_dir(), help="Folder of the run folders (default: FINETUNER_RUNS_DIR, else /data/runs on a Space with persistent storage, else runs).")
    parser.add_argument("--auth", action="append", metavar="USER:PASSWORD", help="Ask for this login before showing the page (repeat for more users); use it with --share.")
    return parser.parse_args(argv)


def auth_pairs(values: list[str] | None) -> list[tuple[str, str]] | None:
    """--auth user:password (repeatable) -> Gradio's auth list."""
    if not values:
        return None
    pairs = []
    for value in values:
        user, sep, password = value.partition(":")
        if not sep or not user or not password:
            raise SystemExit(f"--auth expects USER:PASSWORD, got '{value}'.")
        pairs.append((user, password))
    return pairs


def main(argv=None) -> None:
    args = parse_args(argv)
    from finetuner.ui.studio import build_studio, launch_options

    if args.share or args.auth:
        # A share link or --auth logins: the page is for other people. Each visitor then sees and uses only the
        # runs they started, gives data as uploads or Hub ids (no server paths), and pushes with their own token,
        # never the server's HF_TOKEN (unless FINETUNER_ALLOW_SERVER_TOKEN=1). FINETUNER_SHARED=0 opts out.
        os.environ.setdefault("FINETUNER_SHARED", "1")
        if args.share and not args.auth:
            print("Shared studio without --auth: runs belong to whoever starts them, and visitors without a login can start runs only through the API with their Hugging Face token. Add --auth USER:PASSWORD (one per person) so they can train from the page.")
    demo = build_studio(args.runs_dir)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, auth=auth_pairs(args.auth), **launch_options())


if __name__ == "__main__":
    main()
