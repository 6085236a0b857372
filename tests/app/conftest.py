"""A real studio, launched once per test session on a free loopback port."""
import pytest

from qinstruct.models.families import save_tiny_pair

from ..helpers.studio import free_port  # noqa: F401 - the app tests import it from here


@pytest.fixture(scope="session")
def studio(tmp_path_factory):
    from app.main import build, launch_kwargs
    from qinstruct.access import AccessPolicy
    from qinstruct.demo.world import WorldConfig, build_world
    from qinstruct.workspace import Workspace

    from ..conftest import SHARED_DATA

    workspace = Workspace.open(tmp_path_factory.mktemp("workspace"))
    # a small demo world, as `python -m app` builds on first start (default size there)
    build_world(WorldConfig(out=str(workspace.demo_world), images=240, eval_images=60, seed=1))
    save_tiny_pair(workspace.models)  # a tiny LLaVA and a LoRA on it: the one-base-two-sides path
    # as `python -m app --allow-dir ../shared/data --allow-url http://127.0.0.1` would: the reference data may be
    # read by typed paths, and the tests' local OpenAI-compatible servers (on loopback) may be reached
    access = AccessPolicy.for_studio(workspace.root, data_dirs=[str(SHARED_DATA)], allowed_urls=["http://127.0.0.1"])
    blocks = build(workspace, access, max_jobs=2)  # two jobs at once: the tests' evaluations do not wait long
    blocks.queue(default_concurrency_limit=2)
    port = free_port()
    blocks.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                  **launch_kwargs(workspace, blocks))
    yield {"url": f"http://127.0.0.1:{port}/", "workspace": workspace, "blocks": blocks}
    blocks.close()
