"""One JobSpec per long job: every registered spec is a `qinstruct` verb, a kind the launcher runs and resumes, and
the kind its run folder records; no tab writes a kind of its own; a job's path fields are confined by the policy
once, for every job."""
import ast
from pathlib import Path

import pytest

from qinstruct.access import AccessDenied, AccessPolicy
from qinstruct.cli import build_parser
from qinstruct.config import ConfigError, config_from_mapping, path_fields
from qinstruct.jobs.registry import job_specs, kinds_of, spec_named, spec_of

ROOT = Path(__file__).resolve().parents[2]


def _verb_parser(verb: tuple[str, ...]):
    """The argparse parser of `qinstruct VERB...` (None: no such verb)."""
    parser = build_parser()
    for word in verb:
        actions = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
        if not actions or word not in actions[0].choices:
            return None
        parser = actions[0].choices[word]
    return parser


@pytest.mark.parametrize("kind", sorted(job_specs()))
def test_every_job_is_a_verb_a_launcher_kind_and_its_run_folders_kind(kind):
    spec = job_specs()[kind]
    parser = _verb_parser(spec.verb)
    assert parser is not None, f"{kind}: no `qinstruct {' '.join(spec.verb)}`"
    defaults = parser._defaults
    assert defaults["job_class"] is spec.config and defaults["job_spec"].kind == kind
    assert spec_named(kind) is spec or spec_named(kind).config is spec.config  # what the launcher resumes
    assert kinds_of((spec.config,)) == (kind,)  # what a tab lists
    assert getattr(spec.config, "KIND", kind) == kind  # what its RunFolder records (eval-NAME: protocol.kind)
    assert callable(spec.run) and spec.folder_field in {f for f in spec.config.__dataclass_fields__}


def test_a_run_folder_never_gets_a_kind_written_out():
    """RunFolder(path, KIND) takes the kind from the config class or the protocol, never from a string."""
    calls = []
    for path in (ROOT / "qinstruct").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "RunFolder":
                calls.append((path.name, node.lineno, node.args[1]))
    assert len(calls) >= 6
    assert not [(name, line) for name, line, kind in calls if isinstance(kind, ast.Constant)]


def test_no_tab_names_a_kind():
    """The tabs list their runs by config class (TrainConfig, the protocols' configs), never by kind strings."""
    kinds = set(job_specs())
    listing = {"jobs", "run_choices", "latest_live", "chosen_run"}
    for path in (ROOT / "app").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("eval-"):
                assert node.value not in kinds, f"{path.name}:{node.lineno} names {node.value}"
            if isinstance(node, ast.Name) and node.id == "KINDS":
                pytest.fail(f"{path.name}:{node.lineno}: a KINDS of its own")
            name = getattr(node, "func", None)
            if isinstance(node, ast.Call) and getattr(name, "attr", getattr(name, "id", None)) in listing:
                for argument in node.args:
                    strings = [n.value for n in ast.walk(argument) if isinstance(n, ast.Constant)
                               and isinstance(n.value, str)]
                    assert not set(strings) & kinds, f"{path.name}:{node.lineno} lists runs by kind"


def test_path_fields_are_confined_by_the_policy_for_every_job(tmp_path):
    """Every job's fields marked `option(path=...)` are confined and resolved by AccessPolicy.confine: a path
    outside what the user may read is refused, an inside one resolved in their namespace."""
    root = tmp_path / "workspace"
    (root / "users" / "c").mkdir(parents=True)
    (root / "users" / "c" / "mine.json").write_text("[]")
    policy = AccessPolicy.for_studio(root).for_user("c")
    marked = {kind: path_fields(spec.config) for kind, spec in job_specs().items()}
    assert all(marked[kind] for kind in ("train", "corrupt", "convert", "eval-a1", "eval-a2", "eval-a3")), marked
    values = {"train": {"model": "tiny:llava", "output_dir": "x", "strategy": "baseline", "high_level": ["/etc/x"]},
              "corrupt": {"source": "/etc", "out": "x", "random_assign": True},
              "convert": {"input": "/etc/passwd", "out": "x"},
              "eval-a1": {"questions": "/etc/passwd", "out": "x", "models": ["tiny:llava"]},
              "eval-a3": {"mos": ["/etc/passwd=x"], "out": "x", "models": ["tiny:llava"]}}
    for kind, fields in values.items():
        config = config_from_mapping(spec_named(kind).config, fields, "test")
        with pytest.raises(AccessDenied, match="outside the folders this studio may read"):
            policy.confine(config)
    mine = policy.confine(config_from_mapping(spec_named("eval-a3").config, {"mos": ["mine.json=m"], "out": "x",
                                                                                "models": ["tiny:llava"]},
                                              "test"))
    assert mine.mos == [f"{(root / 'users' / 'c' / 'mine.json').resolve()}=m"]
    policy.require_present(mine)
    gone = policy.confine(config_from_mapping(spec_named("eval-a1").config, {"questions": "none.json", "out": "x",
                                                                                   "models": ["tiny:llava"]},
                                              "test"))
    with pytest.raises(ConfigError, match=r"^questions: none.json: no such file in the workspace$"):
        policy.require_present(gone)


def test_a_config_is_the_job_of_exactly_one_spec():
    from qinstruct.train.config import TrainConfig

    assert spec_of(TrainConfig(model="m", output_dir="x", strategy="baseline", high_level=["a"])).kind == "train"
    with pytest.raises(ConfigError, match="not a job the launcher runs"):
        spec_of(object())
