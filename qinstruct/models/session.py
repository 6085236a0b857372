"""One conversation of the Chat tab (or a script): two sides, their turns, blind A/B order, rating, votes.

A round is the exchanges under one A/B order, ended by a vote: in blind mode the next question starts a new round
(a fresh conversation and a new random order, so the vote's reveal says nothing about the next answers), and a
round takes one vote (a second one is logged as excluded; `qinstruct.eval.arena` documents the log).

Everything here is per session: the studio keeps a ChatSession in each browser session's state, so two people
chatting at once never see each other's turns.  Votes and finished exchanges are appended to a JSONL log.
"""
from __future__ import annotations

import hashlib
import io
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from PIL import Image

from ..errors import UserError
from ..fileio import append_line, now, write_bytes, write_json
from .pair import FAILED_ANSWER, SidePair, stream_pair
from .pool import ModelPool
from .seen import SeenImage, seen_by
from .tiles import tiled
from .types import MAX_IMAGES, GenerationOptions, LoadOptions, Rating, Turn, image_list

VOTES = ("A is better", "B is better", "Tie", "Both are bad")
# A micro demo model was only ever asked about an image: without one it babbles until its token limit (14-16 s of
# "text text…" on a laptop).  Other models answer a text-only question as text models do.  Names no side (blind).
NEEDS_IMAGE = ("this question has no image, and the micro demo models answer about images only: upload one, "
               "pick a demo photo, or click a held-out image below")
SideOptions = LoadOptions | tuple[LoadOptions, LoadOptions] | None  # both sides', or (left's, right's)


@dataclass
class Timing:
    """How long the last turn took, measured from the request (models already loaded) to each side's text."""
    first_text_s: float | None  # to the first text on either side
    seconds: tuple[float, float]  # to each side's last text
    tokens: tuple[int | None, int | None]  # each answer's length in its model's tokens (None: remote or failed)
    failed: tuple[bool, bool] = (False, False)  # the side's "answer" is its error: no speed to speak of

    def line(self, names: tuple[str, str], blind: bool) -> str:
        first = f"first text after {self.first_text_s:.2f} s" if self.first_text_s is not None else "no text"
        if blind:  # per-side speed could tell the sides apart
            return f"answered in {max(self.seconds):.2f} s · {first}"
        parts = []
        for name, seconds, tokens, failed in zip(names, self.seconds, self.tokens, self.failed):
            speed = f"{tokens} tokens in {seconds:.2f} s" if tokens is not None else f"{seconds:.2f} s"
            if tokens and seconds > 0:
                speed += f" ({tokens / seconds:.0f} tok/s)"
            parts.append(f"{name}: failed after {seconds:.2f} s" if failed else f"{name}: {speed}")
        return " · ".join(parts + [first])


@dataclass
class ChatSession:
    left_spec: str
    right_spec: str
    blind: bool = False
    swapped: bool = False  # blind mode: column A shows the right (tuned) side, drawn again every round
    turns: tuple[list[Turn], list[Turn]] = field(default_factory=lambda: ([], []))
    image_sha256: str | None = None
    session_id: str = field(default_factory=lambda: secrets.token_hex(16))  # also the key to resume it
    voted: bool = False  # this round's vote is cast (and, in blind mode, the order revealed)
    round_id: str = field(default_factory=lambda: secrets.token_hex(8))
    last_timing: Timing | None = None
    labels: tuple[str, str] = ("", "")  # what each side is, as the last request loaded it (a failure says why)
    failed: tuple[bool, bool] = (False, False)
    shared: bool = False  # one base model served both sides
    owner: str | None = None  # the logged-in user whose conversation this is (None: no login)

    @classmethod
    def start(cls, left_spec: str, right_spec: str, blind: bool = False) -> ChatSession:
        return cls(left_spec, right_spec, blind, swapped=blind and secrets.randbelow(2) == 1)

    def new_round(self, keep_turns: bool = False) -> None:
        """The next round: a new id, no vote yet; in blind mode a fresh conversation under a new random order."""
        self.round_id = secrets.token_hex(8)
        self.voted = False
        if self.blind:
            self.swapped = secrets.randbelow(2) == 1
        if not keep_turns:
            self.turns = ([], [])

    @property
    def answered(self) -> bool:
        """The last question has an answer (on either side) to vote on."""
        return bool(self.turns[0]) and any(turns[-1].assistant for turns in self.turns)

    def columns(self) -> tuple[int, int]:
        """Which side each displayed column (A, B) shows."""
        return (1, 0) if self.swapped else (0, 1)

    def remember(self, pair: SidePair) -> None:
        self.labels = (pair.left.label, pair.right.label)
        self.failed = (pair.left.kind == "failed", pair.right.kind == "failed")
        self.shared = pair.shared

    def reveal(self) -> str:
        a, b = self.columns()
        specs = (self.left_spec, self.right_spec)
        return f"A was {specs[a]}; B was {specs[b]}"


def image_digest(image: Image.Image | list | None) -> str | None:
    """Which picture(s) a conversation is about: a new one starts a new conversation."""
    pictures = image_list(image)
    if not pictures:
        return None
    digest = hashlib.sha256(pictures[0].tobytes())
    for picture in pictures[1:]:  # a second image makes it another question (one image keeps its old digest)
        digest.update(hashlib.sha256(picture.tobytes()).digest())
    return digest.hexdigest()[:16]


def send(pool: ModelPool, session: ChatSession, image: Image.Image | None, text: str,
         options: GenerationOptions | None = None, load_options: SideOptions = None,
         api_key: str | None = None) -> Iterator[ChatSession]:
    """Ask both sides; yields the session after each streamed piece (the last yield is the finished turn)."""
    if not text.strip():
        raise ValueError("type a question first")
    pair = pool.pair(session.left_spec, session.right_spec, load_options, api_key)
    if image is None and any(tiled(side) for side in pair.sides):  # before the conversation changes at all
        raise ValueError(NEEDS_IMAGE)
    digest = image_digest(image)
    if digest != session.image_sha256:  # a new image starts a new conversation (the image is in turn 1)
        session.new_round()
        session.image_sha256 = digest
    elif session.voted:  # blind: the revealed order must not carry on; open: the next answer takes its own vote
        session.new_round(keep_turns=not session.blind)
    for side in (0, 1):
        session.turns[side].append(Turn(text, ""))
    session.remember(pair)
    history = tuple([Turn(t.user, t.assistant) for t in turns[:-1]] + [Turn(text)] for turns in session.turns)
    start = time.perf_counter()
    first, last = None, [0.0, 0.0]
    for deltas in stream_pair(pair, history, image, options or GenerationOptions()):
        elapsed = time.perf_counter() - start
        for side, delta in enumerate(deltas):
            if delta:
                session.turns[side][-1].assistant += delta
                if first is None and not delta.startswith(FAILED_ANSWER):  # text, not a side's error
                    first = elapsed
                last[side] = elapsed
        yield session
    answers = (session.turns[0][-1].assistant, session.turns[1][-1].assistant)
    failed = tuple(FAILED_ANSWER in answer for answer in answers)  # a side's error, where its answer (or its end) was
    session.last_timing = Timing(first, (last[0], last[1]), tuple(
        None if failed[k] else side.count_tokens(answers[k]) for k, side in enumerate(pair.sides)), failed)
    yield session


def regenerate(pool: ModelPool, session: ChatSession, image: Image.Image | None, **kwargs) -> Iterator[ChatSession]:
    if not session.turns[0]:
        raise ValueError("nothing to regenerate yet")
    question = session.turns[0][-1].user
    last = [turns.pop() for turns in session.turns]
    kept = [len(turns) for turns in session.turns]
    try:
        yield from send(pool, session, image, question, **kwargs)
    except ValueError:
        if [len(turns) for turns in session.turns] == kept:  # refused before asking (no image for a micro model)
            for turns, turn in zip(session.turns, last):
                turns.append(turn)
        raise


def rate_both(pool: ModelPool, session: ChatSession, image: Image.Image, load_options: SideOptions = None,
              api_key: str | None = None) -> tuple[Rating | str, Rating | str]:
    """Each side's rating of the image (the first, when the question shows several), or the side's error."""
    image = image_list(image)[0]
    pair: SidePair = pool.pair(session.left_spec, session.right_spec, load_options, api_key)
    session.remember(pair)
    out = []
    for side in pair.sides:
        try:
            out.append(side.rate([image])[0])
        except (UserError, ValueError, RuntimeError) as error:  # a failed side, a dead endpoint, a bad image
            out.append(f"⚠ {error}")
    return out[0], out[1]


def seen_pair(pool: ModelPool, session: ChatSession, image: Image.Image, load_options: SideOptions = None,
              api_key: str | None = None) -> list[SeenImage]:
    """What each column's model sees of the image (the first, when there are several), in column order, named as
    the page names the columns."""
    image = image_list(image)[0]
    pair: SidePair = pool.pair(session.left_spec, session.right_spec, load_options, api_key)
    names = ("A", "B") if session.blind else ("baseline", "tuned")
    columns = session.columns() if session.blind else (0, 1)
    return [seen_by(pair.sides[side], image, name) for name, side in zip(names, columns)]


def log_event(log_path: Path, kind: str, session: ChatSession, **extra) -> dict:
    record = {"time": now(), "type": kind, "session": session.session_id,
              "left": session.left_spec, "right": session.right_spec, "blind": session.blind,
              "swapped": session.swapped, "round": session.round_id, "image_sha256": session.image_sha256,
              "turns": [[asdict(t) for t in side] for side in session.turns], **extra}
    log_path.parent.mkdir(parents=True, exist_ok=True)
    append_line(log_path, record)  # one write per line: sessions logging at once never interleave
    return record


SECOND_VOTE = "a second vote on one answer"


def vote(log_path: Path, session: ChatSession, choice: str) -> str:
    """Log the round's vote and reveal the order; a second vote in the round is logged as excluded."""
    if choice not in VOTES:
        raise ValueError(f"vote must be one of {', '.join(VOTES)}")
    if not session.answered:
        raise ValueError("ask something before voting")
    a, b = session.columns()
    specs = (session.left_spec, session.right_spec)
    if session.voted:
        log_event(log_path, "vote", session, vote=choice, a=specs[a], b=specs[b], excluded=SECOND_VOTE)
        return f"Already voted on this answer: this vote is logged but not counted. {session.reveal()}"
    log_event(log_path, "vote", session, vote=choice, a=specs[a], b=specs[b])
    session.voted = True
    return session.reveal()


def _session_paths(folder: Path, session: str, image: str | None, index: int = 1) -> tuple[Path, Path | None]:
    if not session or not all(c in "0123456789abcdef" for c in session):
        raise ValueError("not a session id")
    suffix = "" if index == 1 else f"-{index}"  # the second image of a question beside the first
    return folder / f"{session}.json", folder / f"{session}-{image}{suffix}.png" if image else None


def save_session(folder: Path, session: ChatSession, image: Image.Image | list | None) -> None:
    """Keep a conversation (and its images) so that a page reload, or the next visit, picks it up again."""
    data, _ = _session_paths(folder, session.session_id, None)
    for index, picture_image in enumerate(image_list(image), start=1):
        _, picture = _session_paths(folder, session.session_id, session.image_sha256, index)
        if picture is not None and not picture.exists():
            buffer = io.BytesIO()
            picture_image.convert("RGB").save(buffer, format="PNG")
            write_bytes(picture, buffer.getvalue())
    write_json(data, {**asdict(session), "turns": [[asdict(t) for t in side] for side in session.turns]})


def load_session(folder: Path, session_id: str, owner: str | None = None
                 ) -> tuple[ChatSession, Image.Image | list | None] | None:
    """The saved conversation of `owner` with its image (a list when the question showed several), or None when
    there is none (or it cannot be read, or it is another user's: a fresh start, not an error)."""
    try:
        data_path, _ = _session_paths(folder, session_id, None)
        data = json.loads(data_path.read_text(encoding="utf-8"))
        turns = tuple([Turn(t["user"], t["assistant"]) for t in side] for side in data.pop("turns"))
        timing = data.pop("last_timing", None)
        session = ChatSession(**{**data, "turns": turns, "labels": tuple(data.get("labels", ("", ""))),
                                 "failed": tuple(data.get("failed", (False, False))),
                                 "last_timing": Timing(timing["first_text_s"], tuple(timing["seconds"]),
                                                       tuple(timing["tokens"])) if timing else None})
        if session.owner != owner:
            return None
        pictures = []
        for index in range(1, MAX_IMAGES + 1):
            _, picture = _session_paths(folder, session.session_id, session.image_sha256, index)
            if picture is None or not picture.is_file():
                break
            pictures.append(Image.open(picture).convert("RGB"))
        image = pictures if len(pictures) > 1 else (pictures[0] if pictures else None)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return session, image
