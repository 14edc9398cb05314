"""A user's own environment: the example of docs/environments.md trains from the CLI and from Python, and envs
that break the contract are refused with one line."""

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "environments.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", PAGE.read_text(), re.S)


@pytest.fixture()
def user_dir(tmp_path):
    """A working directory holding the page's my_envs.py, importable by subprocesses."""
    (tmp_path / "my_envs.py").write_text(_blocks("python")[0])
    return tmp_path


def _run(args: list[str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _cli(command: str) -> list[str]:
    words = shlex.split(command)
    assert words[0] == "belief-rl"
    return [sys.executable, "-m", "belief_rl.cli", *words[1:]]


def test_the_example_trains_from_the_command_line_as_written(user_dir):
    train, evaluate = [line for line in _blocks("bash")[0].splitlines() if line.strip()]
    done = _run([*_cli(train), "--no-progress"], user_dir)
    assert done.returncode == 0, done.stderr
    done = _run(_cli(evaluate), user_dir)
    assert done.returncode == 0, done.stderr
    results = json.loads((user_dir / "runs" / "doors" / "evaluation.json").read_text())
    assert results["env_id"] == "my_envs:my_envs/Doors-v0" and results["strategies"] == {}
    assert results["num_tasks"] == 1000  # the default of an env without a family


def test_the_example_trains_from_python_and_beats_random_play(user_dir):
    done = _run([sys.executable, "-c", _blocks("python")[1]], user_dir)
    assert done.returncode == 0, done.stderr
    held_out = float(re.search(r"held-out return ([\d.]+)", done.stdout).group(1))
    assert held_out > 4.0  # random play scores 2, the best policy 6.5


BROKEN = {
    "no task spec": ("self.task_spec = CategoricalTask(num_doors)", "", "has no task spec"),
    "no task in info": ('return np.array([0.0], dtype=np.float32), {"task": self.door}',
                        "return np.array([0.0], dtype=np.float32), {}",
                        "returns no info['task'] from reset()"),
    "wrong task shape": ("self.task_spec = CategoricalTask(num_doors)",
                         "self.task_spec = BetaTask(num_doors)", "has shape () per env"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_an_env_breaking_the_contract_gets_a_one_line_error(user_dir, case):
    old, new, fragment = BROKEN[case]
    source = _blocks("python")[0]
    assert old in source
    source = source.replace(old, new).replace("import CategoricalTask", "import BetaTask, CategoricalTask")
    (user_dir / "my_envs.py").write_text(source)
    done = _run([sys.executable, "-m", "belief_rl.cli", "train", "--env", "my_envs:my_envs/Doors-v0",
                 "--run-dir", "run", "--total-steps", "64"], user_dir)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and fragment in lines[0], done.stderr
    assert not (user_dir / "run" / "config.json").exists()


def test_an_unimportable_env_module_gets_a_one_line_error(user_dir):
    done = _run([sys.executable, "-m", "belief_rl.cli", "train", "--env", "not_a_module:x/Y-v0",
                 "--run-dir", "run"], user_dir)
    lines = done.stderr.strip().splitlines()
    assert (done.returncode == 2 and len(lines) == 1
            and "cannot import 'not_a_module'" in lines[0]), done.stderr
