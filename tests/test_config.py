"""sprintboard.toml: typos and bad values are errors that name the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from sprintboard.config import load_config
from sprintboard.errors import ConfigError
from sprintboard.workspace import init_workspace, open_board, policy_from_config


def test_generated_config_loads_and_becomes_a_policy(tmp_path: Path) -> None:
    root = init_workspace(tmp_path / "w", hosts=[("alpha", []), ("beta", ["mlx"])], git=False)
    config = load_config(root)
    policy = policy_from_config(config)
    assert policy.owner == "alpha" and policy.host_caps["beta"] == frozenset({"mlx"})
    assert policy.agent_roles["auditor-1"] == "auditor" and policy.wip_per_role["builder"] == 3
    assert policy.agent_hosts["builder-beta"] == "beta" and policy.open_claims is False
    opened = (
        (root / "sprintboard.toml")
        .read_text("utf-8")
        .replace("open_claims = false", "open_claims = true")
    )
    (root / "sprintboard.toml").write_text(opened, encoding="utf-8")
    assert policy_from_config(load_config(root)).open_claims is True


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ('[board]\nowner = "a"\nowenr = "b"\n', "board.owenr", "Extra inputs are not permitted"),
        ('[board]\nowner = "a"\nlock_timeout = -1\n', "board.lock_timeout", "greater than 0"),
        ('[board]\nowner = "zed"\n[[hosts]]\nname = "a"\n', None, "not one of the hosts"),
        ("[board\n", None, "not valid TOML"),
    ],
)
def test_bad_config_names_file_and_key(
    tmp_path: Path, text: str, key: str | None, reason: str
) -> None:
    (tmp_path / "sprintboard.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path)
    assert err.value.key == key and reason in str(err.value)
    assert str(tmp_path / "sprintboard.toml") in str(err.value)


def test_open_board_on_a_non_owner_host_is_refused(tmp_path: Path) -> None:
    from sprintboard.errors import NotOwner

    root = init_workspace(tmp_path / "w", hosts=[("alpha", []), ("beta", [])], git=False)
    with pytest.raises(NotOwner):
        open_board(root, host="beta")


def test_a_refused_value_reads_as_words_not_pydantic(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "ws", git=False)
    path = ws / "sprintboard.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("[a2a]\n", '[a2a]\nurl = "ftp://alpha/"\n', 1), "utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(ws)
    assert "is not an http:// or https:// URL" in str(err.value)
    assert "Value error" not in str(err.value)


def test_the_generated_config_names_no_internal_document(tmp_path: Path) -> None:
    text = (init_workspace(tmp_path / "ws", git=False) / "sprintboard.toml").read_text("utf-8")
    assert "DESIGN.md" not in text and "contract" not in text


_CODER = '[board]\nowner = "a"\n[[agents]]\nname = "coder"\nrole = "{role}"\nhost = "a"\n{rest}'


@pytest.mark.parametrize(
    ("role", "rest", "reason"),
    [
        ("builder", 'worker = "command"\n', 'agent \'coder\': worker = "command" needs command = ['),
        ("builder", 'worker = "command"\ncommand = ["x", "{prompt}"]\n', "unknown placeholder {prompt}; use one of {prompt_file}"),
        ("builder", 'command = ["x"]\n', 'command only apply to worker = "command" or "llm"'),
        ("builder", "timeout = 5\nrepo = \"r\"\n", "timeout, repo only apply to worker"),
        ("auditor", 'worker = "command"\ncommand = ["x"]\n', 'is for builders, not auditors'),
        ("builder", 'worker = "command"\ncommand = ["x"]\nenv = ["A B"]\n', "env 'A B' is not a variable name"),
        ("builder", 'worker = "command"\ncommand = ["x"]\ntimeout = 0\n', "greater than 0"),
        ("builder", 'worker = "shell"\n', "Input should be 'tools', 'command' or 'llm'"),
        ("builder", 'worker = "command"\ncommand = ["x"]\n[workers]\nallow_commands = ["y ..."]\n',
         "its command is not in [workers] allow_commands"),
    ],
)  # fmt: skip
def test_worker_settings_are_checked_with_the_agent_named(
    tmp_path: Path, role: str, rest: str, reason: str
) -> None:
    (tmp_path / "sprintboard.toml").write_text(_CODER.format(role=role, rest=rest), "utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path)
    assert reason in str(err.value)


def test_a_command_worker_config_loads_with_its_defaults(tmp_path: Path) -> None:
    rest = 'worker = "command"\ncommand = ["agent", "--prompt-file", "{prompt_file}"]\n'
    rest += '[workers]\nallow_commands = ["agent --prompt-file *"]\n'
    (tmp_path / "sprintboard.toml").write_text(_CODER.format(role="builder", rest=rest), "utf-8")
    config = load_config(tmp_path)
    (coder,) = config.agents
    assert (coder.worker, coder.stdin, coder.timeout, coder.max_attempts) == (
        "command",
        False,
        1800.0,
        3,
    )
    assert policy_from_config(config).agent_workers == {"coder": "command"}
