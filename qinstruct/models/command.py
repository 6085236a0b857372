"""`qinstruct chat` and `qinstruct rate`."""
from __future__ import annotations

import argparse
import sys


def _model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", help="cuda, cpu, ... (default: cuda when available)")
    parser.add_argument("--dtype", help="bfloat16, float32, ... (default: bf16 on GPU, fp32 on CPU)")
    parser.add_argument("--trust-remote-code", action="store_true",
                        help="run code shipped with a checkpoint (mPLUG-Owl-2, InternLM-XComposer); off by default")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    chat = subparsers.add_parser("chat", help="ask one or two models about an image (baseline vs tuned)")
    chat.add_argument("--model", action="append", required=True, metavar="SPEC",
                      help="model spec (twice for a side-by-side): HUB_ID, DIR, adapter DIR, tiny:llava, openai:M@URL")
    chat.add_argument("--image", help="image file")
    chat.add_argument("--prompt", required=True)
    chat.add_argument("--max-new-tokens", type=int, default=256)
    chat.add_argument("--temperature", type=float, default=0.0, help="0: greedy (default, as the paper)")
    chat.add_argument("--top-p", type=float, default=1.0)
    chat.add_argument("--rate", action="store_true", help="also print each model's quality rating of the image")
    _model_options(chat)
    chat.set_defaults(func=run_chat)

    rate = subparsers.add_parser("rate", help="P(good) and the Q-Align 5-level score, one line per image")
    rate.add_argument("images", nargs="+")
    rate.add_argument("--model", required=True, metavar="SPEC")
    rate.add_argument("--batch-size", type=int, default=16)
    rate.add_argument("--compile", action="store_true",
                      help="compile the model's repeated blocks first (~20 s once; faster for many images)")
    _model_options(rate)
    rate.set_defaults(func=run_rate)


def _options(args):
    from .loading import LoadOptions

    return LoadOptions(device=args.device, dtype=args.dtype, trust_remote_code=args.trust_remote_code)


def _image(path: str | None):
    if path is None:
        return None
    from ..corrupt.images import load_image

    return load_image(path)


def run_chat(args) -> int:
    from ..corrupt.images import ImageInputError
    from .chat import GenerationOptions, Turn
    from .loading import ModelLoadError
    from .pair import load_pair, load_side, rate_side, stream_pair, stream_side

    if len(args.model) > 2:
        print("error: at most two --model", file=sys.stderr)
        return 2
    try:
        image = _image(args.image)
    except ImageInputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    options = GenerationOptions(args.max_new_tokens, args.temperature, args.top_p)
    turns = [Turn(args.prompt)]
    if len(args.model) == 2:
        pair = load_pair(args.model[0], args.model[1], _options(args))
        sides = list(pair.sides)
        answers = ["", ""]
        for left, right in stream_pair(pair, (turns, turns), image, options):
            answers[0] += left
            answers[1] += right
    else:
        sides = [load_side(args.model[0], _options(args))]
        answers = [""]
        if not isinstance(sides[0], ModelLoadError):
            answers[0] = "".join(stream_side(sides[0], turns, image, options))
    failed = False
    for spec, side, answer in zip(args.model, sides, answers):
        print(f"=== {spec}" + (f"  [{side.label}]" if not isinstance(side, ModelLoadError) else ""))
        if isinstance(side, ModelLoadError):
            print(f"error: {side}")
            failed = True
            continue
        print(answer.strip())
        if args.rate and image is not None:
            print("rating: " + rate_side(side, [image])[0].line())
    return 1 if failed else 0


def run_rate(args) -> int:
    from ..corrupt.images import ImageInputError
    from .loading import ModelLoadError, load_model
    from .pair import rate_side

    try:
        model = load_model(args.model, _options(args))
    except ModelLoadError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.compile and not getattr(model, "is_remote", False):
        from .rating import compile_blocks

        compile_blocks(model.model)
    good, paths, status = [], [], 0
    for path in args.images:
        try:
            good.append(_image(path))
            paths.append(path)
        except ImageInputError as error:
            print(f"skipped: {error}", file=sys.stderr)
            status = 3
    for start in range(0, len(good), args.batch_size):
        for path, rating in zip(paths[start:start + args.batch_size],
                                rate_side(model, good[start:start + args.batch_size])):
            print(f"{path}\t{rating.line()}")
    return status
