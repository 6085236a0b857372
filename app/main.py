"""build(workspace) -> gr.Blocks: arranges the tabs; every tab lives in app/tabs/<tab>.py."""
from __future__ import annotations

import importlib
import os
from pathlib import Path

import gradio as gr
from starlette.middleware import Middleware

from qinstruct.access import AccessPolicy
from qinstruct.workspace import Workspace

from .context import AppContext
from .forms import ERROR_MARK
from .serving import LoginThrottle, LoginWall

# module name under app.tabs, in display order
TABS = ["corrupt", "stats", "convert", "tune", "chat", "evaluate"]

START_ID = "start-here"
START_HERE = """Three things to try (each takes seconds, on the shipped micro demo models, no GPU, no network):
1. **Corrupt**: press **Corrupt**, then **Score cells**: the tuned model's P(good) falls as blur and noise grow,
   the baseline's stays flat.
2. **Chat**: click a held-out demo image under blur, then the prompt "Is this image blurry?": the baseline and
   the tuned model answer side by side (tick **Blind mode** to vote without knowing which is which).
3. **Evaluate**: open **The shipped micro demo models** for the paper's tables and radar, or press **Evaluate** to
   run the Q-Bench protocols on the held-out sets yourself."""


def first_visit(visited: bool):
    """Start here is open on a browser's first visit and folded after."""
    return gr.Accordion(open=not visited), True


CSS = """
/* Gradio's Source Sans Pro SemiBold is a 55-glyph subset: bold text took the letters it lacks from a fallback font
   40 % wider ("half bold", and bold numbers that pushed an 11-column table past 1280 px).
   Its full Bold, for 600-700. */
@font-face { font-family: "Source Sans Pro"; font-weight: 600 700; font-style: normal;
  src: url("static/fonts/SourceSansPro/SourceSansPro-Bold.woff2") format("woff2"); }
/* ...and Gradio's own SemiBold face still wins at 600 (declared after ours): headings and large buttons, its only
   600 text, are set in the full Bold ("A1 perception" took its "A" from DejaVu Sans) */
.gradio-container { --prose-header-text-weight: 700; --button-large-text-weight: 700; }
.qi-status { min-height: 1.6em; }
#tune-buttons { align-items: center; }  /* a row of buttons beside the run's name, not five 100-px blocks */
#corrupt-gallery .caption-label { white-space: normal; max-width: 96%; }  /* "micro mix 0.77" whole */
/* the whole grid on the page, no scrollbar inside it: Gradio caps an "auto" gallery at 55 % of the window (at
   720 px that showed 2 rows of 5) */
#corrupt-gallery .grid-wrap.fixed-height { max-height: none; }
/* tables at a projector's width: a word never breaks inside ("Ho / w"), a header cell is at least a word wide */
#eval-tables th, #eval-tables td, #eval-shipped-tables th, #eval-shipped-tables td {
  word-break: normal !important; overflow-wrap: normal !important; }
#eval-tables th, #eval-shipped-tables th { min-width: 4.2em; }
/* a number and its +Δ on one line ("0.619 (+0.254)"), eleven columns within 1280 px */
#eval-tables table, #eval-shipped-tables table { width: 100% !important; max-width: 100%; table-layout: auto; }
#eval-tables td, #eval-shipped-tables td { white-space: nowrap; }
#eval-tables th, #eval-tables td, #eval-shipped-tables th, #eval-shipped-tables td { padding: 6px 8px !important; }
/* the Chatbots' label and buttons float over the top of their box: scroll the messages below them */
#chat-left .bubble-wrap, #chat-right .bubble-wrap { margin-top: 2.4rem; height: calc(100% - 2.4rem); }
"""

# A user error is one "⚠" line in the tab's status output (app/forms.py); the button the user pressed may be far
# below it on a projector's 720 px, so a line that appears off screen is brought into view.
SHOW_ERROR_LINES = """
() => {
  const mark = '%s';
  new MutationObserver((records) => {
    for (const record of records) {
      const node = record.target.nodeType === 1 ? record.target : record.target.parentElement;
      const box = node && node.closest('.prose');
      if (!box || !box.textContent.trim().startsWith(mark)) continue;
      const shown = box.getBoundingClientRect();
      if (shown.top < 0 || shown.bottom > window.innerHeight) box.scrollIntoView({block: 'center'});
    }
  }).observe(document.body, {childList: true, subtree: true, characterData: true});
}
""" % ERROR_MARK.strip()

# Gradio 6.31's English strings lack two keys its own components use: without these, a multi-file upload holding
# files shows its "add more" button as "common.upload" and its finished upload as "common.complete"
MISSING_STRINGS = {"en": {"common.upload": "Upload more", "common.complete": "Complete"}}


def build(workspace: Workspace | str | None = None, access: AccessPolicy | None = None,
          max_jobs: int | None = None, logins: bool = False, **limits) -> gr.Blocks:
    """Create the studio.  Nothing heavy runs here: tabs compute when a user asks, or on page load.  `logins`:
    the studio will be launched with --auth (the page is then built for no user in particular); `limits`: the
    launcher's per-user limits (per_user, queued_per_user)."""
    workspace = workspace if isinstance(workspace, Workspace) else Workspace.open(workspace)
    ctx = AppContext.open(workspace, access, max_jobs, logins, **limits)
    with gr.Blocks(title="Q-Instruct Studio", analytics_enabled=False) as blocks:
        gr.Markdown(
            "# Q-Instruct Studio\n"
            "Low-level visual instruction tuning (Q-Instruct, CVPR 2024): corrupt images, explore feedback, "
            "convert, tune, chat and evaluate. Everything is kept in the studio's workspace folder."
        )
        with gr.Accordion("Start here", open=False, elem_id=START_ID) as start:
            gr.Markdown(START_HERE)
        visited = gr.BrowserState(False, storage_key="qinstruct-visited")
        blocks.load(first_visit, visited, [start, visited], api_name=False)
        modules = [importlib.import_module(f"app.tabs.{name}") for name in TABS]
        # components a tab needs at the page's top level (a tab's own content mounts only when it opens)
        page: dict = {}
        for module in modules:
            page.update(module.page_components(ctx) if hasattr(module, "page_components") else {})
        with gr.Tabs() as tabs:
            page["tabs"] = tabs
            for module in modules:
                module.create_tab(ctx, blocks, page)
        for module in modules:  # events between tabs, once every tab exists
            if hasattr(module, "wire"):
                module.wire(ctx, page)
    return blocks


def files_readable(workspace: Workspace):
    """readable(user, path) for the file route: inside the workspace, what the user's policy reads (their
    namespace, the shared demo world and models/); elsewhere (Gradio's upload and cache folders) Gradio's rules."""
    studio = AccessPolicy.for_studio(workspace.root)

    def readable(user: str, path: Path) -> bool:
        return not path.is_relative_to(workspace.root) or studio.for_user(user).readable(path)
    return readable


def launch_kwargs(workspace: Workspace, blocks: gr.Blocks, trusted_proxies: tuple = ()) -> dict:
    """Serving options shared by `python -m app` and the tests: only the workspace is served from disk, with a
    login every route is behind it and each user reaches their own files only; no run history is kept in the
    browser (it would hold what was typed, keys included)."""
    # uvicorn takes a client's address from X-Forwarded-For whenever the connection comes from 127.0.0.1 (its
    # default FORWARDED_ALLOW_IPS): any local process could then pose as any address.  The studio reads that
    # header itself, and only from the proxies the operator names (--trusted-proxy).
    os.environ["FORWARDED_ALLOW_IPS"] = ""
    throttle = LoginThrottle(path=workspace.root / ".secrets" / "login-failures.json")
    wall = Middleware(LoginWall, blocks=blocks, throttle=throttle, readable=files_readable(workspace),
                      trusted_proxies=trusted_proxies)
    return {"allowed_paths": [str(workspace.root)], "blocked_paths": [str(p) for p in workspace.private], "css": CSS,
            "js": SHOW_ERROR_LINES, "i18n": gr.I18n(**MISSING_STRINGS), "footer_links": ["api"], "show_error": True,
            "run_history": False, "app_kwargs": {"middleware": [wall]}}
