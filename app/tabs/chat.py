"""Chat tab: one image, one question, two answers streaming side by side (baseline vs tuned), ratings, blind
A/B votes.  Conversations and API keys live in each browser session; models are shared by the studio's pool."""
from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import asdict

import gradio as gr

from qinstruct.config import check_config
from qinstruct.demo.examples import held_out_examples
from qinstruct.models.known import hint_markdown, missing_line
from qinstruct.models.session import (
    VOTES,
    ChatSession,
    load_session,
    log_event,
    rate_both,
    regenerate,
    save_session,
    seen_pair,
    send,
    vote,
)
from qinstruct.models.specs import spec_help
from qinstruct.models.types import GenerationOptions, LoadOptions
from qinstruct.photos import demo_photo, list_demo_photos

from ..components import CheckedImage, checked_uploads, forget_demo_photo
from ..context import AppContext, user_event
from ..forms import bind, bounds, label, reports_errors

# the paper's prompts, then questions in the demo world's own words (what the micro demo models were taught)
EXAMPLES = ["Describe and evaluate the quality of the image.", "Is this image blurry?",
            "What kind of distortion is most obvious in this image?", "How is the overall quality of this image?",
            "Is there noise in this image?", "What is shown in the image?"]
MICRO_NOTE = ("The two sides start as the shipped **micro demo models**: 2M-parameter LLaVA-architecture models "
              "trained by `qinstruct demo reproduce` on the synthetic demo world (64 px images). **micro-baseline** "
              "learned content questions only; **micro-mix** also learned the low-level data (the paper's mix). "
              "They know the demo world, not real photographs: try the held-out images below.")
LEFT_ID, RIGHT_ID = "chat-left", "chat-right"
PROMPT_ID, SEND_ID, RATE_ID = "chat-prompt", "chat-send", "chat-rate"
RATING_IDS = ("chat-rating-left", "chat-rating-right")
STATUS_ID = "chat-status"
PHOTO_ID = "chat-photo"
DEVICE_QUEUE = "device"  # one queue for the Chat tab's model calls: chat, regenerate, rating
SAVED_KEY = "chat-session"
STREAM_INTERVAL_S = 0.05  # ~20 updates a second look continuous
VOTE_IDS = ("chat-vote-a", "chat-vote-b", "chat-vote-tie", "chat-vote-bad")
NOTE_ID, VOTE_RESULT_ID, SEEN_ID, TAB_ID = "chat-note", "chat-vote-result", "chat-seen", "chat-tab"
SECOND_ID, IMAGE_ID = "chat-second-image", "chat-image"
SIDES_NOTE_ID, KNOWN_ID = "chat-sides-note", "chat-known-checkpoints"
TRUST_IDS = ("chat-trust-left", "chat-trust-right")
ASK, WAIT = "Ask both models about the image…", "Answering… the next question once this answer ends"
RATE_AFTER_VOTE = ("Blind mode: the ratings are shown after your vote (they would tell the models apart at "
                   "once).")
NEXT_ROUND = " Your next question starts a new round: a fresh conversation under a new random order."


def vote_buttons(enabled: bool) -> list:
    """The four vote buttons, open only while an answer waits for its one vote."""
    return [gr.Button(interactive=enabled) for _ in VOTES]


def lock_votes() -> list:
    return vote_buttons(False)


def question_box(open_: bool) -> tuple:
    """The question box and Send: closed while an answer streams, so that a question typed meanwhile is never
    sent into the void (the answer's end empties the box), open again when it ends, answered or failed."""
    return (gr.Textbox(interactive=open_, placeholder=ASK if open_ else WAIT), gr.Button(interactive=open_))


def open_votes(state) -> list:
    """After an answer, or after a question that failed (its message is the status line): open only while an
    answer waits for its vote."""
    return vote_buttons(state is not None and state.answered and not state.voted)


def side_labels(blind: bool) -> tuple[str, str]:
    """Blind mode names no side by what it learned: the columns are shuffled into A and B every round."""
    return ("Model 1", "Model 2") if blind else ("Baseline (left)", "Tuned (right)")


def _messages(turns) -> list[dict]:
    out = []
    for turn in turns:
        out.append({"role": "user", "content": turn.user})
        if turn.assistant is not None:
            out.append({"role": "assistant", "content": turn.assistant or "…"})
    return out


def _rating_text(rating) -> str:
    if isinstance(rating, str):
        return rating
    levels = " · ".join(f"{k} {v:.2f}" for k, v in rating.level_probs.items())
    note = " (approximate: the server gave no logprobs)" if rating.approximate else ""
    if rating.tiles > 1:  # a micro model on a large image: its native-resolution tiles
        note += f" · mean of {rating.tiles} tiles, spread ± {rating.spread:.3f}"
    if rating.prompt in ("q-align", "one-align"):  # an mPLUG-Owl2 checkpoint, asked as its scorers ask
        note += " · Q-Align prompt" if rating.prompt == "q-align" else " · One-Align score() prompt"
    return f"**P(good) = {rating.p_good:.3f}** · Q-Align **{rating.score5:.2f} / 5**{note}  \n{levels}"


def within_spread(ratings) -> str:
    """A warning under the ratings when the two P(good) differ by less than the spread of a side's tiles: a
    speaker must not read noise as a result."""
    rated = [r for r in ratings if not isinstance(r, str)]
    if len(rated) != 2:
        return ""
    spread = max(r.spread or 0.0 for r in rated)
    gap = abs(rated[0].p_good - rated[1].p_good)
    if not spread or gap >= spread:
        return ""
    return (f"  \n⚠ The two P(good) differ by {gap:.3f}, less than the spread over the tiles (± {spread:.3f}): "
            "not a difference to read.")


def columns_view(session: ChatSession):
    a, b = session.columns()
    labels = ("Model A", "Model B") if session.blind else ("Baseline", "Tuned")
    return (gr.Chatbot(value=_messages(session.turns[a]), label=labels[0]),
            gr.Chatbot(value=_messages(session.turns[b]), label=labels[1]))


def session_for(state, left, right, blind) -> ChatSession:
    if state is None or (state.left_spec, state.right_spec, state.blind) != (left, right, bool(blind)):
        return ChatSession.start(left, right, bool(blind))
    return state


def generation(max_tokens, temperature, top_p) -> GenerationOptions:
    options = GenerationOptions(int(max_tokens), float(temperature), float(top_p))
    check_config(options, "decoding")
    return options


def status_line(session: ChatSession) -> str:
    names = ("A", "B") if session.blind else ("baseline", "tuned")
    columns = session.columns() if session.blind else (0, 1)  # blind: a failure is named by its column
    parts = [f"{name}: {session.labels[side]}" for name, side in zip(names, columns)
             if not session.blind or session.failed[side]]
    if session.shared and not session.blind:
        parts.append("one base model serves both sides (LoRA per row)")
    status = " · ".join(parts)
    if session.last_timing is not None:
        status += "  \n" + session.last_timing.line(names, session.blind)
    return status


def side_options(trust, trust_right) -> tuple[LoadOptions, LoadOptions]:
    """Each side's load options: remote code is trusted for the side ticked (`trust`: the left one), never for
    whatever model the other side names."""
    return LoadOptions(trust_remote_code=bool(trust)), LoadOptions(trust_remote_code=bool(trust_right))


def question_images(image, second):
    """The question's images: none, one, or both (the second image box is optional)."""
    pictures = [picture for picture in (image, second) if picture is not None]
    return pictures if len(pictures) > 1 else (pictures[0] if pictures else None)


@reports_errors(line=4, outputs=6)  # the status line under the chat
def on_send(ctx: AppContext, state, left, right, blind, image, text, max_tokens, temperature, top_p, trust, api_key,
            second=None, trust_right=False, request: gr.Request = None):  # optional for API clients: last
    if not left or not right:
        raise gr.Error("Choose a model for each side.")
    image = question_images(image, second)
    session = session_for(state, left, right, blind)
    session.owner = request.username if request else None  # only this user gets it back after a reload
    try:
        stream = send(ctx.pool, session, image, text or "", generation(max_tokens, temperature, top_p),
                      side_options(trust, trust_right), api_key or None)
        for session in _throttled(stream):
            yield (session, *columns_view(session), "", "streaming…", session.session_id)
    except ValueError as error:
        raise gr.Error(str(error)) from None
    finally:  # also when the page goes away mid-answer: the reloaded page shows what was said so far
        if session.turns[0]:
            save_session(ctx.workspace.chat_sessions, session, image)
    log_event(ctx.workspace.chat_log, "turn", session,
              timing=asdict(session.last_timing) if session.last_timing else None)
    yield session, *columns_view(session), "", status_line(session), session.session_id


@reports_errors(line=3, outputs=4)
def on_regenerate(ctx: AppContext, state, image, max_tokens, temperature, top_p, trust, api_key, second=None,
                  trust_right=False):
    if state is None:
        raise gr.Error("Nothing to regenerate yet.")
    image = question_images(image, second)
    session = state
    try:
        for session in _throttled(regenerate(ctx.pool, state, image,
                                             options=generation(max_tokens, temperature, top_p),
                                             load_options=side_options(trust, trust_right),
                                             api_key=api_key or None)):
            yield (session, *columns_view(session), "streaming…")
    except ValueError as error:
        raise gr.Error(str(error)) from None
    yield session, *columns_view(session), status_line(session)


@reports_errors(line=1, outputs=3)  # where the ratings appear
def on_rate(ctx: AppContext, state, left, right, blind, image, trust, api_key, trust_right=False):
    if image is None:
        raise gr.Error("Rating needs an image.")
    session = session_for(state, left, right, blind)
    if session.blind and not session.voted:
        return session, RATE_AFTER_VOTE, ""
    ratings = rate_both(ctx.pool, session, image, side_options(trust, trust_right), api_key or None)
    a, b = session.columns()
    return session, _rating_text(ratings[a]), _rating_text(ratings[b]) + within_spread(ratings)


@reports_errors(line=0)
def on_vote(ctx: AppContext, state, choice: str):
    """One vote per answer: the buttons lock until the next answer; blind mode reveals the order."""
    if state is None:
        raise gr.Error("Ask something before voting.")
    try:
        counted = not state.voted
        reveal = vote(ctx.workspace.chat_log, state, choice)
    except ValueError as error:
        raise gr.Error(str(error)) from None
    said = f"**Vote recorded: {choice}.** {reveal}" if counted else reveal
    return said + (NEXT_ROUND if state.blind else "")


@reports_errors(line=1, outputs=2)
def on_seen(ctx: AppContext, state, image, trust, api_key, trust_right=False):
    """Under the image: what each side's model sees of it (in blind mode after the vote: it names the sides)."""
    if state is None or image is None or (state.blind and not state.voted):
        return gr.Gallery(value=None, visible=False), ""
    seen = seen_pair(ctx.pool, state, image, side_options(trust, trust_right), api_key or None)
    names = [view.name for view in seen]
    same = len(seen) == 2 and [p.tobytes() for p in seen[0].images] == [p.tobytes() for p in seen[1].images]
    shown = [(seen[0], " and ".join(names))] if same else list(zip(seen, names))  # one set when both see alike
    pictures = [(picture, name) for view, name in shown for picture in view.images]
    return (gr.Gallery(value=pictures or None, visible=bool(pictures)),
            "  \n".join(view.caption for view in seen))


def forget_image():
    """Another image: the views and the ratings of the last one no longer apply (a P(good) left under a new
    image would read as its own)."""
    return gr.Gallery(value=None, visible=False), "", "", ""


def new_round(blind):
    """A question sent: the last vote's words are about the last answer; in blind mode the question opens a
    round under a new order, so the last round's reveal and ratings (under the old A and B) go too."""
    return ("", "", "") if blind else (gr.skip(), gr.skip(), "")


def on_sides(left, right, blind, micro_pair: tuple):
    """What the page says about the sides: nothing in blind mode until the vote; the note about the micro models
    only while they are the sides (Open in Chat puts a run there)."""
    first, second = side_labels(bool(blind))
    shown = not blind and micro_pair != (None, None) and (left, right) == micro_pair
    return gr.Markdown(visible=shown), gr.Dropdown(label=first), gr.Dropdown(label=second)


def on_missing(left, right, blind):
    """Beside the pickers: a known checkpoint chosen but not downloaded, with its fetch command, before a question
    is asked (it used to appear in that side's column while the other side answered)."""
    names = side_labels(bool(blind))
    lines = [f"⚠ {name}: {line}" for name, spec in zip(names, (left, right)) if (line := missing_line(spec))]
    return "  \n".join(lines)


def named_sides():
    """Open in Chat shows a run by name: blind mode goes off."""
    return gr.Checkbox(value=False)


def restore(ctx: AppContext, saved_id: str, request: gr.Request):
    """On page load: the conversation this browser had (its user's own), with its image, models and mode."""
    found = load_session(ctx.workspace.chat_sessions, saved_id or "", request.username if request else None)
    choices = ctx.model_choices()  # this user's: the page was built with the shared models only
    if found is None:
        return (None, gr.Chatbot(), gr.Chatbot(), gr.Image(), gr.Image(), gr.Dropdown(choices=choices),
                gr.Dropdown(choices=choices), gr.Checkbox(), "", *vote_buttons(False))
    session, image = found
    image, second = (image[0], image[1]) if isinstance(image, list) else (image, None)
    note = "conversation restored" + (f"  \n{status_line(session).lstrip()}" if session.labels[0] else "")
    answered = bool(session.turns[0]) and not session.voted
    return (session, *columns_view(session), image, second, gr.Dropdown(choices=choices, value=session.left_spec),
            gr.Dropdown(choices=choices, value=session.right_spec), gr.Checkbox(value=session.blind), note,
            *vote_buttons(answered))


def on_clear(left, right, blind):
    session = ChatSession.start(left, right, bool(blind))
    return (session, *columns_view(session), "", "", "new conversation" + (
        " (blind: the sides are shuffled into A and B, anew every round)" if blind else ""))


def page_components(ctx: AppContext) -> dict:
    """This browser's conversation id, kept in its local storage (encrypted with the workspace's own secret, so
    that it still opens after the studio restarts): a reload or the next visit resumes the conversation."""
    return {SAVED_KEY: gr.BrowserState("", storage_key="qinstruct-chat-session",
                                       secret=ctx.workspace.secret("browser-state"))}


def create_tab(ctx: AppContext, blocks: gr.Blocks, page: dict) -> None:
    default_left, default_right = ctx.default_models()
    choices = ctx.model_choices(page=True)
    examples = held_out_examples(ctx.workspace.demo_examples)
    saved = page[SAVED_KEY]
    with gr.Tab("Chat", id="chat", elem_id=TAB_ID):
        state = gr.State(None)
        with gr.Row():
            question = _question_column(ctx, choices, default_left, default_right)
            answers = _answers_column(question["image"], examples, default_left, default_right)
    _wire_chat_events(ctx, blocks, page, saved=saved, default_left=default_left, default_right=default_right,
                      state=state, **question, **answers)


def _question_column(ctx: AppContext, choices, default_left, default_right) -> dict:
    """Lays out the left column: the image(s), blind mode, what the models see, the models and decoding."""
    with gr.Column(scale=1, min_width=280):
        image = CheckedImage(label="Image", type="pil", sources=["upload", "clipboard"], height=260, elem_id=IMAGE_ID)
        photo = gr.Dropdown(list_demo_photos(), value=None, label="…or a demo photo", elem_id=PHOTO_ID)
        with gr.Accordion("Second image (ask about both)", open=False, elem_id=SECOND_ID):
            second = CheckedImage(label="Second image", type="pil", sources=["upload", "clipboard"], height=160)
            gr.Markdown("A question about two images (*which of the two is sharper?*) for models that take "
                        "several (mPLUG-Owl2, LLaVA, Qwen2-VL); a model that takes one says so. Ratings and "
                        "what the models see are of the first image.")
        blind = gr.Checkbox(label="Blind mode (sides shuffled as A/B, revealed after a vote)")
        seen = gr.Gallery(label="What the models see", columns=2, height=150, visible=False, elem_id=SEEN_ID,
                          interactive=False, object_fit="contain")
        seen_note = gr.Markdown()
        settings = _models_and_decoding(ctx, choices, default_left, default_right)
    return dict(image=image, photo=photo, second=second, blind=blind, seen=seen, seen_note=seen_note, **settings)


def _models_and_decoding(ctx: AppContext, choices, default_left, default_right) -> dict:
    """Lays out the "Models and decoding" accordion: the two sides, the API key, trust ticks, decoding sliders."""
    with gr.Accordion("Models and decoding", open=False):
        gr.Markdown(f"A model is a folder in the workspace's `models/` or `runs/`, or: {spec_help()}.")
        left = gr.Dropdown(choices, value=default_left, allow_custom_value=True, label=side_labels(False)[0])
        right = gr.Dropdown(choices, value=default_right, allow_custom_value=True, label=side_labels(False)[1])
        sides_note = gr.Markdown(elem_id=SIDES_NOTE_ID)  # a side that cannot load, said beside the choice
        api_key = gr.Textbox(label="API key for openai: specs (kept in memory for your requests only)",
                             type="password")
        with gr.Row(visible=ctx.access.trust_offered):  # one model's code, not the other side's
            trust = gr.Checkbox(label=label(LoadOptions, "trust_remote_code", "— the left model (only "
                                            "those the operator allowed)"), elem_id=TRUST_IDS[0])
            trust_right = gr.Checkbox(label="…the right model", elem_id=TRUST_IDS[1])
        max_tokens = gr.Slider(step=16, label=label(GenerationOptions, "max_new_tokens"),
                               **bounds(GenerationOptions, "max_new_tokens", ui_max=1024))
        temperature = gr.Slider(step=0.05, label=label(GenerationOptions, "temperature"),
                                **bounds(GenerationOptions, "temperature", ui_max=1.5))
        top_p = gr.Slider(step=0.05, label=label(GenerationOptions, "top_p"),
                          **bounds(GenerationOptions, "top_p"))
    with gr.Accordion("The field's checkpoints", open=False, elem_id=KNOWN_ID):  # one click, not two
        gr.Markdown(hint_markdown())
    return dict(left=left, right=right, sides_note=sides_note, api_key=api_key, trust=trust,
                trust_right=trust_right, max_tokens=max_tokens, temperature=temperature, top_p=top_p)


def _answers_column(image, examples, default_left, default_right) -> dict:
    """Lays out the right column: the note, the status, both conversations, the prompt, examples, buttons, votes."""
    with gr.Column(scale=3):
        note = gr.Markdown(MICRO_NOTE, elem_id=NOTE_ID, visible=(default_left, default_right) != (None, None))
        status = gr.Markdown(elem_id=STATUS_ID, elem_classes=["qi-status"])
        with gr.Row():
            with gr.Column():
                chat_a = gr.Chatbot(label="Baseline", height=360, elem_id=LEFT_ID)
                rating_a = gr.Markdown(elem_id=RATING_IDS[0])
            with gr.Column():
                chat_b = gr.Chatbot(label="Tuned", height=360, elem_id=RIGHT_ID)
                rating_b = gr.Markdown(elem_id=RATING_IDS[1])
        with gr.Row():
            prompt = gr.Textbox(placeholder=ASK, show_label=False, scale=5,
                                elem_id=PROMPT_ID)
            send_button = gr.Button("Send", variant="primary", scale=1, elem_id=SEND_ID)
        gr.Examples([[e] for e in EXAMPLES], inputs=prompt, label="Example prompts")
        gr.Examples([[str(path)] for path, _ in examples], inputs=image, examples_per_page=16,
                    example_labels=[caption for _, caption in examples],
                    label="Held-out demo images (never trained on): pristine, then blur, noise and "
                    "over-exposure at severities 1-5")
        with gr.Row():
            rate_button = gr.Button("Rate", elem_id=RATE_ID)
            regen_button = gr.Button("Regenerate")
            clear_button = gr.Button("Clear")
        with gr.Row():
            votes = [gr.Button(choice, size="sm", interactive=False, elem_id=vote_id)
                     for choice, vote_id in zip(VOTES, VOTE_IDS)]
        vote_result = gr.Markdown(elem_id=VOTE_RESULT_ID)
    return dict(note=note, status=status, chat_a=chat_a, rating_a=rating_a, chat_b=chat_b, rating_b=rating_b,
                prompt=prompt, send_button=send_button, rate_button=rate_button, regen_button=regen_button,
                clear_button=clear_button, votes=votes, vote_result=vote_result)


def _wire_chat_events(ctx: AppContext, blocks: gr.Blocks, page: dict, *, saved, default_left, default_right, state,
                      image, photo, second, blind, seen, seen_note, left, right, sides_note, api_key, trust,
                      trust_right, max_tokens, temperature, top_p, note, status, chat_a, rating_a, chat_b, rating_b,
                      prompt, send_button, rate_button, regen_button, clear_button, votes, vote_result) -> None:
    """Wires the Chat tab's events: ask, regenerate, rate, clear, blind mode, votes, demo photos, page load."""
    send_inputs = [state, left, right, blind, image, prompt, max_tokens, temperature, top_p, trust, api_key, second,
                   trust_right]
    send_outputs = [state, chat_a, chat_b, prompt, status, saved]
    # the vote buttons lock while an answer streams and open when it is whole (the server takes one vote anyway)
    seen_inputs, seen_outputs = [state, image, trust, api_key, trust_right], [seen, seen_note]
    for trigger, name in ((send_button.click, "chat_send"), (prompt.submit, False)):
        trigger(new_round, blind, [rating_a, rating_b, vote_result], api_name=False, queue=False)
        answered = trigger(lock_votes, None, votes, api_name=False, queue=False).then(
            user_event(on_send, ctx), send_inputs, send_outputs, api_name=name, concurrency_id=DEVICE_QUEUE,
            concurrency_limit=1)
        trigger(lambda: question_box(False), None, [prompt, send_button], api_name=False, queue=False)
        answered.then(lambda: question_box(True), None, [prompt, send_button], api_name=False, queue=False)
        answered.success(open_votes, state, votes, api_name=False, queue=False)
        answered.success(user_event(on_seen, ctx), seen_inputs, seen_outputs, api_name=False)
    regen_button.click(lock_votes, None, votes, api_name=False, queue=False).then(
        user_event(on_regenerate, ctx), [state, image, max_tokens, temperature, top_p, trust, api_key, second,
                                         trust_right],
        [state, chat_a, chat_b, status], api_name="chat_regenerate", concurrency_id=DEVICE_QUEUE,
        concurrency_limit=1).success(open_votes, state, votes, api_name=False, queue=False)
    rate_button.click(user_event(on_rate, ctx), [state, left, right, blind, image, trust, api_key, trust_right],
                      [state, rating_a, rating_b], api_name="chat_rate", concurrency_id=DEVICE_QUEUE,
                      concurrency_limit=1).success(user_event(on_seen, ctx), seen_inputs, seen_outputs, api_name=False)
    clear_outputs = [state, chat_a, chat_b, rating_a, rating_b, status]
    clear_button.click(on_clear, [left, right, blind], clear_outputs, api_name="chat_clear").then(
        lock_votes, None, votes, api_name=False, queue=False)
    blind.input(on_clear, [left, right, blind], clear_outputs, api_name=False).then(  # a click, not a restore
        lock_votes, None, votes, api_name=False, queue=False)
    for changed in (blind, left, right):  # after a restore and Open in Chat too
        changed.change(bind(on_sides, micro_pair=(default_left, default_right)), [left, right, blind],
                       [note, left, right], api_name=False)
        changed.change(on_missing, [left, right, blind], sides_note, api_name=False, queue=False)
    for choice, button, name in zip(VOTES, votes, ("a", "b", "tie", "bad")):
        voted = button.click(user_event(on_vote, ctx, choice=choice), state, vote_result, api_name=f"chat_vote_{name}")
        voted.success(lock_votes, None, votes, api_name=False, queue=False)
        voted.success(user_event(on_seen, ctx), seen_inputs, seen_outputs, api_name=False)
    photo.input(demo_photo, photo, image, api_name=False)
    image.upload(forget_demo_photo, None, photo, api_name=False)
    for box in (image, second):
        checked_uploads(box, status)
    image.change(forget_image, None, [*seen_outputs, rating_a, rating_b], api_name=False, queue=False)
    page["chat-right"] = right  # the Tune tab's Open in Chat puts a finished run here
    page["chat-named"] = (blind, named_sides)  # ...with blind mode off
    blocks.load(user_event(restore, ctx), saved,
                [state, chat_a, chat_b, image, second, left, right, blind, status, *votes],
                api_name=False)


def _throttled(stream: Iterator[ChatSession]) -> Iterator[ChatSession]:
    """At most one UI update per STREAM_INTERVAL_S: every update sends both conversations to the browser, and
    one per token made the browser, not the model, set the pace.  The caller yields the finished state last."""
    shown = 0.0
    for session in stream:
        now = time.monotonic()
        if now - shown >= STREAM_INTERVAL_S:
            shown = now
            yield session
