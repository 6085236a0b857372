"""What a browser user may reach: data paths, model folders, remote code, and which key goes where."""
import json
import shutil
from pathlib import Path

import pytest

from qinstruct.access import AccessDenied, AccessPolicy
from qinstruct.endpoints import NO_KEY, KeyPolicy
from qinstruct.models.loading import load_model
from qinstruct.models.specs import AdapterSpec, HubOrFolderSpec, RemoteSpec, TinySpec, parse_spec
from qinstruct.models.types import LoadOptions, ModelLoadError


@pytest.fixture
def workspace(tmp_path):
    root = tmp_path / "ws"
    (root / "models" / "mine").mkdir(parents=True)
    (root / "models" / "mine" / "config.json").write_text(json.dumps({"model_type": "llava"}))
    (root / "runs").mkdir()
    (root / "data").mkdir()
    (root / "data" / "p.jsonl").write_text("")
    return root


def test_data_paths_are_confined(workspace, tmp_path):
    policy = AccessPolicy.for_studio(workspace)
    assert policy.data_path("data/p.jsonl") == workspace / "data" / "p.jsonl"  # relative to the workspace
    assert policy.data_spec("data/p.jsonl=KonIQ") == f"{workspace / 'data' / 'p.jsonl'}=KonIQ"
    assert policy.data_path("~/.ssh/id_rsa") == workspace / "~" / ".ssh" / "id_rsa"  # no home expansion
    for text in ("/etc", "/etc/passwd", "../outside", "data/../../outside", str(tmp_path)):
        with pytest.raises(AccessDenied, match="outside the folders this studio may read"):
            policy.data_path(text)
    allowed = AccessPolicy.for_studio(workspace, data_dirs=[str(tmp_path / "extra")])
    assert allowed.data_path(str(tmp_path / "extra" / "x.json")) == tmp_path / "extra" / "x.json"
    link = workspace / "data" / "escape"
    link.symlink_to("/etc")
    with pytest.raises(AccessDenied):  # a symlink inside the workspace pointing out of it
        policy.data_path("data/escape/passwd")
    assert AccessPolicy.unrestricted().data_path("/etc/hostname").name == "hostname"  # the command line: all


def test_model_specs_are_confined(workspace, tmp_path):
    policy = AccessPolicy.for_studio(workspace)
    assert parse_spec("models/mine", policy) == HubOrFolderSpec("models/mine", str(workspace / "models" / "mine"))
    assert isinstance(parse_spec("llava-hf/llava-1.5-7b-hf", policy), HubOrFolderSpec)  # a hub id
    assert parse_spec("tiny:llava@3", policy) == TinySpec("tiny:llava@3", "llava", 3)
    assert isinstance(parse_spec("openai:gpt-x@http://127.0.0.1:9/v1", policy), RemoteSpec)
    uploaded = tmp_path / "gradio" / "upload" / "evil"
    uploaded.mkdir(parents=True)
    (uploaded / "config.json").write_text("{}")
    for text in (str(uploaded), "data", "../gradio/upload/evil", "/etc", "a/b/c"):
        with pytest.raises(AccessDenied):
            parse_spec(text, policy)
    # an adapter inside the workspace whose base lies outside it is refused too
    adapter = workspace / "models" / "lora"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": str(uploaded)}))
    with pytest.raises(AccessDenied):
        parse_spec("models/lora", policy)
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "../mine"}))
    spec = parse_spec("models/lora", policy)
    assert isinstance(spec, AdapterSpec) and spec.base.source == str(workspace / "models" / "mine")


def test_remote_code_only_for_the_operators_specs(workspace, tmp_path):
    evil = workspace / "models" / "evil"
    evil.mkdir()
    marker = tmp_path / "ran"
    (evil / "config.json").write_text(json.dumps({"model_type": "evil", "auto_map": {
        "AutoConfig": "evil_code.EvilConfig"}}))
    (evil / "evil_code.py").write_text(f"open({str(marker)!r}, 'w').write('pwned')\n"
                                       "from transformers import PretrainedConfig\n"
                                       "class EvilConfig(PretrainedConfig):\n    model_type = 'evil'\n")
    studio = AccessPolicy.for_studio(workspace)
    assert not studio.trust_offered
    with pytest.raises(ModelLoadError, match="trust_remote_code is not allowed"):
        load_model("models/evil", LoadOptions(trust_remote_code=True), studio)
    listed = AccessPolicy.for_studio(workspace, trusted_specs=[str(workspace / "models" / "mine")])
    assert listed.trust_offered and listed.may_trust("models/mine") and not listed.may_trust("models/evil")
    with pytest.raises(ModelLoadError, match="trust_remote_code is not allowed"):
        load_model("models/evil", LoadOptions(trust_remote_code=True), listed)
    with pytest.raises(ModelLoadError):  # without trust, transformers refuses the custom code
        load_model("models/evil", LoadOptions(), studio)
    assert not marker.exists()  # the shipped code never ran


def test_operator_paths_and_a_symlinked_models_folder(workspace, tmp_path, monkeypatch):
    shared = tmp_path / "shared-models"
    (shared / "big").mkdir(parents=True)
    (shared / "big" / "config.json").write_text("{}")
    (workspace / "models" / "linked").symlink_to(shared / "big")
    monkeypatch.chdir(tmp_path)  # the operator's relative paths start where the studio was started
    policy = AccessPolicy.for_studio(workspace, model_dirs=["shared-models"], trusted_specs=["shared-models/big"])
    assert parse_spec(str(shared / "big"), policy).source == str(shared / "big")
    assert policy.may_trust(str(shared / "big")) and not policy.may_trust("models/mine")
    linked = AccessPolicy.for_studio(workspace)
    with pytest.raises(AccessDenied):  # a link inside models/ that leads out of the allowed folders
        parse_spec("models/linked", linked)
    (workspace / "models").rename(workspace / "real-models")
    (workspace / "models").symlink_to(workspace / "real-models")  # models/ itself a link: still the models
    assert parse_spec("models/mine", AccessPolicy.for_studio(workspace)).source == str(workspace / "real-models" /
                                                                                      "mine")


def test_endpoints_only(monkeypatch):
    from qinstruct.errors import UserError

    policy = AccessPolicy.for_studio(Path("."), endpoints=["http://127.0.0.1:8000/v1"], endpoints_only=True)
    policy.keys.check("http://127.0.0.1:8000/v1/")
    with pytest.raises(UserError, match="reaches only the endpoints its operator configured"):
        load_model("openai:m@http://169.254.169.254/latest", LoadOptions(), policy)


def test_environment_key_goes_only_to_configured_endpoints(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-server")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    studio = KeyPolicy.for_studio(["http://127.0.0.1:8000/v1/"])
    assert studio.key_for("http://127.0.0.1:8000/v1", None) == "sk-server"
    assert studio.key_for("https://api.openai.com/v1", None) == "sk-server"  # the default endpoint
    assert studio.key_for("http://attacker.example/v1", None) == NO_KEY
    assert studio.key_for("http://attacker.example/v1", "sk-user") == "sk-user"  # a user's own key, their choice
    assert KeyPolicy().key_for("http://anywhere/v1", None) == "sk-server"  # the command line: the user's key


def test_adapter_base_with_a_bad_json_is_one_line(workspace):
    adapter = workspace / "models" / "broken"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="adapter_config.json: not valid JSON") as info:
        parse_spec("models/broken", AccessPolicy.for_studio(workspace))
    assert "\n" not in str(info.value)
    shutil.rmtree(adapter)


def test_paths_from_inside_data_files_and_private_folders(workspace, tmp_path):
    policy = AccessPolicy.for_studio(workspace)
    (workspace / "data" / "img.png").write_bytes(b"x")
    assert policy.data_file_path(workspace / "data", "img.png") == workspace / "data" / "img.png"
    outside = tmp_path / "real.png"
    outside.write_bytes(b"x")
    messages = set()
    for relative in (str(outside), str(tmp_path / "missing.png"), "../../real.png", "../../missing.png",
                     "../.secrets/browser-state", "../chat/log.jsonl"):
        with pytest.raises(AccessDenied) as refused:
            policy.data_file_path(workspace / "data", relative)
        messages.add(str(refused.value).replace(relative, "PATH"))
    assert len(messages) == 1  # one answer whether the file exists or not: no existence oracle
    for private in (".secrets", "chat/sessions", "convert/.cache/x", ".jobs"):
        with pytest.raises(AccessDenied):
            policy.data_path(private)
    assert AccessPolicy.unrestricted().data_file_path(workspace, str(outside)) == outside  # the operator: all


def test_a_launched_job_inherits_the_studio_policy_and_the_users_key(workspace, monkeypatch):
    from qinstruct.access import POLICY_ENV, policy_environment, process_policy
    from qinstruct.endpoints import USER_KEY_ENV

    policy = AccessPolicy.for_studio(workspace, endpoints=["http://10.0.0.1/v1"], endpoints_only=True)
    environment = policy_environment(policy, user_key="sk-user")
    assert "sk-user" not in environment[POLICY_ENV]  # the policy holds paths and endpoints, never a key
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    inherited = process_policy()
    assert inherited.data_roots == policy.data_roots and inherited.private == policy.private
    assert inherited.keys.env_key_endpoints == policy.keys.env_key_endpoints and inherited.keys.only_configured
    assert inherited.keys.key_for("http://127.0.0.1:9/v1", None) == "sk-user"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-server")
    monkeypatch.delenv(USER_KEY_ENV)
    assert process_policy().keys.key_for("http://127.0.0.1:9/v1", None) == NO_KEY  # the server's stays home
    with pytest.raises(AccessDenied):
        process_policy().data_path("/etc/passwd")
    monkeypatch.setenv(POLICY_ENV, "{not json")  # a damaged policy is the strictest one, never the widest
    with pytest.raises(AccessDenied):
        process_policy().data_path(str(workspace / "data" / "p.jsonl"))


def test_a_batch_over_the_workspace_leaves_private_folders_and_links_out(workspace, tmp_path, monkeypatch):
    from qinstruct.access import policy_environment
    from qinstruct.corrupt.batch import discover_sources

    for name in ("chat/sessions/s1/image.png", ".jobs/x.png", "data/a.png", "convert/.cache/b.png"):
        (workspace / name).parent.mkdir(parents=True, exist_ok=True)
        (workspace / name).write_bytes(b"x")
    (tmp_path / "outside.png").write_bytes(b"x")
    (workspace / "data" / "link.png").symlink_to(tmp_path / "outside.png")
    for name, value in policy_environment(AccessPolicy.for_studio(workspace)).items():
        monkeypatch.setenv(name, value)
    found = [str(p.relative_to(workspace)) for p in discover_sources(workspace)]
    assert found == ["data/a.png", "data/p.jsonl", "models/mine/config.json"]  # chat, .jobs, the cache, the link: out
