"""Users apart, at the core: each logged-in user's namespace (users/NAME/) is theirs alone -- no path, model spec,
run or listing of theirs reaches another user's; the shared demo world and models/ are everyone's to read; the
operator sees all."""
import json

import pytest

from qinstruct.access import AccessDenied, AccessPolicy
from qinstruct.config.render import shell_line
from qinstruct.convert.job import ConvertJobConfig
from qinstruct.models.pool import ModelPool, list_model_specs
from qinstruct.models.specs import parse_spec
from qinstruct.workspace import Workspace, user_folder_name


def model_folder(path):
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"model_type": "llava"}))
    return path


@pytest.fixture
def workspace(tmp_path):
    ws = Workspace.open(tmp_path / "ws")
    model_folder(ws.root / "models" / "shipped")
    (ws.root / "demo" / "world").mkdir(parents=True)
    (ws.root / "demo" / "world" / "pathway.jsonl").write_text("")
    alice = ws.for_user("alice")
    model_folder(alice.runs / "tuned" / "model")
    (alice.folder("uploads", "photos") / "photo.png").write_bytes(b"png")
    (alice.folder("convert", "demo-offline") / "items.json").write_text("[]")
    return ws


def test_a_users_view_is_their_namespace_with_the_shared_world_and_models(workspace):
    carol = workspace.for_user("carol")
    assert carol.root == workspace.root / "users" / "carol" and carol.top == workspace.root
    assert carol.runs == workspace.root / "users" / "carol" / "runs"
    assert carol.demo_world == workspace.demo_world and carol.models == workspace.models  # shared, read only
    assert carol.relative(carol.runs / "x") == "runs/x" and carol.relative(workspace.models / "m") == "models/m"
    assert carol.shown(carol.runs / "x") == "users/carol/runs/x"  # a shell line runs from the workspace folder
    assert workspace.for_user(None).root == workspace.root  # the operator: the whole workspace
    assert user_folder_name("a b") != user_folder_name("a-b") and user_folder_name("alice") == "alice"


def test_no_path_of_another_user_is_reachable(workspace):
    studio = AccessPolicy.for_studio(workspace.root)
    carol = studio.for_user("carol")
    alice_root = workspace.root / "users" / "alice"
    for text in ("../alice/convert/demo-offline/items.json", str(alice_root / "convert" / "demo-offline" / "items.json"),
                 "../alice/uploads/photos", str(alice_root / "uploads" / "photos" / "photo.png"),
                 "../../users/alice", "/etc/passwd", ".secrets", "chat", "convert/.cache",
                 str(workspace.root / "runs"), "../../.secrets/browser-state"):
        with pytest.raises(AccessDenied, match="outside the folders this studio may read"):
            carol.data_path(text)
    assert carol.data_path("demo/world/pathway.jsonl") == workspace.demo_world / "pathway.jsonl"  # shared
    assert carol.data_path("uploads") == workspace.root / "users" / "carol" / "uploads"  # their own
    alice = studio.for_user("alice")
    assert alice.data_path("convert/demo-offline/items.json").is_file()
    assert studio.data_path("users/alice/convert/demo-offline/items.json").is_file()  # the operator sees all


def test_no_model_of_another_user_loads_and_a_refusal_says_nothing_about_it(workspace):
    studio = AccessPolicy.for_studio(workspace.root)
    carol, alice = studio.for_user("carol"), studio.for_user("alice")
    assert parse_spec("runs/tuned/model", alice).resolved == str(workspace.root / "users/alice/runs/tuned/model")
    assert parse_spec("models/shipped", carol).resolved == str(workspace.models / "shipped")  # shared
    messages = set()
    for text in ("../alice/runs/tuned/model", str(workspace.root / "users/alice/runs/tuned/model"),
                 "../alice/runs/nothing/model", str(workspace.root / "users/alice/runs/nothing/model")):
        with pytest.raises(AccessDenied) as refused:
            parse_spec(text, carol)
        messages.add(str(refused.value).split(":", 1)[1])
    assert len(messages) == 1  # the same sentence whether alice's model exists or not
    with pytest.raises(AccessDenied):
        parse_spec("runs/tuned/model", carol)  # carol's runs/ has no such run: alice's is not hers


def test_the_pool_resolves_each_users_spec_before_its_cache(workspace):
    """One user's loaded "runs/x/model" is never handed to another who names the same text."""
    studio = AccessPolicy.for_studio(workspace.root)
    pool = ModelPool(policy=studio)
    alice, carol = pool.as_user(studio.for_user("alice")), pool.as_user(studio.for_user("carol"))
    assert alice._identity("runs/tuned/model") == str(workspace.root / "users/alice/runs/tuned/model")
    assert carol._identity("runs/tuned/model") is None  # carol has no such run: her side fails, alice's is not used
    assert alice._pairs is carol._pairs  # one cache of weights for the studio


def test_listings_show_each_user_their_own_models_only(workspace):
    carol = workspace.for_user("carol")
    model_folder(carol.runs / "mine" / "model")
    shown = list_model_specs(carol.relative, carol.models, carol.runs)
    assert "runs/mine/model" in shown and "models/shipped" in shown
    assert not any("tuned" in spec for spec in shown)


def test_a_shell_line_names_no_server_path(workspace):
    carol = workspace.for_user("carol")
    config = ConvertJobConfig(input=str(workspace.demo_world / "pathway.jsonl"),
                              out=str(carol.conversion_folder("mine")))
    line = shell_line(config, workspace.root)
    assert str(workspace.root) not in line
    assert "demo/world/pathway.jsonl" in line and "--out users/carol/convert/mine" in line


def test_a_users_policy_travels_to_their_jobs(workspace):
    carol = AccessPolicy.for_studio(workspace.root, allowed_urls=["http://127.0.0.1:9"]).for_user("carol")
    again = AccessPolicy.from_json(carol.to_json())
    assert again == carol and again.user == "carol" and again.keys.allowed_urls == carol.keys.allowed_urls
    with pytest.raises(AccessDenied):
        again.data_path("../alice/uploads/photos")


def test_the_operator_lists_every_users_runs_even_the_deepest(workspace):
    from qinstruct.runs import list_runs

    batch = workspace.for_user("carol").batch_folder("b")
    batch.mkdir(parents=True)
    (batch / "status.json").write_text(json.dumps({"kind": "corrupt", "state": "done", "owner": "carol"}))
    assert [(s.name, s.owner) for s in list_runs(workspace.root)] == [("b", "carol")]


def test_an_operator_folder_holding_the_workspace_opens_no_other_namespace(workspace):
    """--allow-dir / --models-dir on a folder that contains the workspace (--allow-dir . with ./workspace)."""
    above = str(workspace.root.parent)
    carol = AccessPolicy.for_studio(workspace.root, data_dirs=[above], model_dirs=[above]).for_user("carol")
    alice = workspace.root / "users" / "alice"
    for text in (str(alice / "convert" / "demo-offline" / "items.json"), "demo/../users/alice/uploads/photos",
                 str(alice / "chat"), "../alice/uploads/photos/photo.png"):
        with pytest.raises(AccessDenied, match="outside the folders"):
            carol.data_path(text)
    with pytest.raises(AccessDenied, match="no such model folder here"):
        parse_spec(str(alice / "runs" / "tuned" / "model"), carol)
    assert carol.data_path(str(workspace.root.parent)) == workspace.root.parent  # the operator's folder itself
    mine = workspace.for_user("carol").folder("uploads", "x")
    assert carol.data_path("uploads/x") == mine and not carol.readable(mine.parent.parent / "chat")


def test_a_spec_named_like_a_workspace_folder_is_never_a_hub_id(workspace, monkeypatch):
    """From a server started inside its workspace, `users/alice` (a folder there) and `users/zz` (none) must get the
    same answer: a different one would tell which logins exist."""
    monkeypatch.chdir(workspace.root)
    carol = AccessPolicy.for_studio(workspace.root).for_user("carol")
    answers = set()
    for text in ("users/alice", "users/zz", "runs/tuned", "runs/nothing"):
        with pytest.raises(AccessDenied) as refused:
            parse_spec(text, carol)
        answers.add(str(refused.value).split(":", 1)[1])
    assert len(answers) == 1
