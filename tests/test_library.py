"""The package as a library: the public API, the README's quick start, installation and the module graph."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import belief_rl
from belief_rl.agents import Agent
from belief_rl.config import AgentConfig, TrainConfig
from belief_rl.errors import BeliefRLError
from belief_rl.policy import Policy
from belief_rl.rollout import collect_rollout
from belief_rl.runs import build_agent

ROOT = Path(__file__).resolve().parents[1]
TINY = ["agent.hidden_size=16", "agent.embed_dim=16", "agent.latent_dim=8", "agent.policy_hidden=16",
        "ppo.num_envs=8", "ppo.num_minibatches=2", "eval_tasks=16", "num_threads=1"]


def _python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), re.S)


def test_readme_quick_start_runs_as_written(tmp_path):
    config = belief_rl.make_config(env_id="belief_rl/Bandit-v0", agent="belief", total_steps=800,
                                   overrides=TINY)
    belief_rl.train(config, tmp_path / "runs" / "demo", progress=False)
    block = _python_blocks(ROOT / "README.md")[0]
    assert len(block.strip().splitlines()) <= 13
    done = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(r"return \d+; belief mean of arm 0: 0\.\d\d\n", done.stdout), done.stdout


def _agent(env_id: str, algorithm: str, **agent: object) -> tuple[TrainConfig, Agent]:
    config = TrainConfig(env_id=env_id, algorithm=algorithm,
                         agent=AgentConfig(hidden_size=16, embed_dim=16, latent_dim=4, policy_hidden=(16,),
                                           **agent))
    torch.manual_seed(0)
    return config, build_agent(config).eval()


@pytest.mark.parametrize("env_id,algorithm,agent", [
    ("belief_rl/Bandit-K5-H10-v0", "ppo", {"policy_head": "componentwise"}),
    ("belief_rl/Semicircle-Small-v0", "svg0", {"policy_memory": 8, "time_scale": 40.0}),
    ("belief_rl/Semicircle-Small-v0", "ppo", {"kind": "aux_head"}),
])
def test_policy_acts_and_believes_as_the_training_rollout_does(env_id, algorithm, agent):
    """Policy.act hides the input encoding and recurrent state: its deterministic actions on a vector env are
    collect_rollout's, and its belief after each step is the sequence belief computed
    over the whole history."""
    _, trained = _agent(env_id, algorithm, **agent)
    env = belief_rl.make_vector_env(env_id, 6)
    reference = collect_rollout(env, trained, seed=11, deterministic=True)
    beliefs = trained.belief(reference.batch.inputs)

    policy = Policy(trained)
    obs, info = env.reset(seed=11)
    policy.reset(num_envs=6)
    reward = None
    for t in range(reference.batch.actions.shape[0]):
        action = policy.act(obs, reward, info=info, deterministic=True)
        np.testing.assert_array_equal(action, reference.batch.actions[t].numpy())
        belief = policy.belief()
        torch.testing.assert_close(belief.mean, beliefs.mean[t])
        obs, reward, terminated, truncated, info = env.step(action)
    assert (terminated | truncated).all()


def test_policy_forgets_a_finished_meta_episode_where_done():
    _, trained = _agent("belief_rl/Bandit-K5-H10-v0", "ppo")
    env = belief_rl.make_env("belief_rl/Bandit-K5-H10-v0")

    def play(policy: Policy, seed: int, done_first: bool) -> list[int]:
        obs, info = env.reset(seed=seed)
        actions, reward, done = [], None, done_first
        for _ in range(10):
            actions.append(policy.act(obs, reward, done=done, info=info, deterministic=True))
            obs, reward, terminated, truncated, info = env.step(actions[-1])
            done = False
        return actions

    policy = Policy(trained)
    policy.reset()
    play(policy, 0, False)
    second = play(policy, 1, True)  # done=True at its first step: a new meta-episode
    fresh = Policy(trained)
    fresh.reset()
    assert second == play(fresh, 1, False)
    assert isinstance(second[0], int) and policy.belief().batch_shape == ()


@pytest.mark.parametrize("kind", ["belief", "rnn"])
def test_policy_follows_next_step_autoreset_of_a_vector_env(kind):
    """With gymnasium's next-step autoreset the call after a done is ignored by the env; the meta-episode
    after it must be played exactly as a fresh policy plays the same observations and rewards."""
    _, trained = _agent("belief_rl/Bandit-K5-H10-v0", "ppo", kind=kind, time_scale=10.0)
    env = belief_rl.make_vector_env("belief_rl/Bandit-K5-H10-v0", 3)
    policy = Policy(trained)
    policy.reset(num_envs=3)
    obs, info = env.reset(seed=4)
    reward, done, seen = None, None, []
    for _ in range(21):  # 10 steps, the ignored call, 10 steps of the next meta-episode
        action = policy.act(obs, reward, done, info, deterministic=True)
        seen.append((obs, reward, action))
        obs, reward, terminated, truncated, info = env.step(action)
        done = terminated | truncated
    assert seen[10][1] is not None and seen[11][1].tolist() == [0.0, 0.0, 0.0]  # the reset step pays nothing
    fresh = Policy(trained)
    fresh.reset(num_envs=3)
    for t, (obs, reward, action) in enumerate(seen[11:]):
        np.testing.assert_array_equal(fresh.act(obs, None if t == 0 else reward, deterministic=True), action)
    with pytest.raises(ValueError, match="previous step's reward"):
        fresh.act(obs)


def test_rnn_agent_has_no_belief():
    _, trained = _agent("belief_rl/Bandit-K5-H10-v0", "ppo", kind="rnn")
    policy = Policy(trained)
    policy.reset()
    policy.act(np.zeros(1, dtype=np.float32))
    with pytest.raises(BeliefRLError, match="has no task head"):
        policy.belief()


def _imports(path: Path, module: str, known: set[str]) -> set[str]:
    """Every belief_rl module ``module`` imports, at any depth in the file (functions included)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                     for alias in node.names]
        else:
            continue
        found |= {name for name in names if name in known and name != module}
    return found


def test_the_module_graph_has_no_cycles():
    files = {}
    for root, prefix in ((ROOT / "belief_rl", "belief_rl"), (ROOT / "envs", "belief_rl.envs")):
        for path in root.rglob("*.py"):
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join((prefix, *parts[:-1])) if parts[-1] == "__init__" else ".".join((prefix, *parts))
            files[name] = path
    graph = {name: _imports(path, name, set(files)) for name, path in files.items()}
    # the parser sees imports
    assert graph["belief_rl.evaluation"] and "belief_rl.runs" in graph["belief_rl.training"]

    # Depth-first search for a back edge; report the cycle it closes.
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return stack[stack.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for name in sorted(graph):
        if name not in state:
            cycle = visit(name)
            assert cycle is None, " -> ".join(cycle)


def test_import_registers_the_envs_and_installs_no_top_level_envs(tmp_path):
    code = ("import importlib.util, gymnasium as gym, belief_rl\n"
            "assert importlib.util.find_spec('envs') is None, 'a top-level envs module is importable'\n"
            "env = gym.make('belief_rl/Bandit-v0')\n"
            "print(env.reset(seed=0)[0].shape, belief_rl.__version__)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == "(1,)"


def test_bandits_need_neither_mujoco_nor_gpytorch(tmp_path):
    """Without the optional extras: import, train, load and evaluate on a bandit;
    the MuJoCo envs say why not."""
    code = (
        "import sys\n"
        "sys.modules['mujoco'] = None; sys.modules['gpytorch'] = None  # importing either now fails\n"
        "import belief_rl\n"
        "config = belief_rl.make_config(env_id='belief_rl/Bandit-K5-H10-v0', total_steps=80, "
        f"overrides={TINY!r})\n"
        "belief_rl.train(config, 'run', progress=False)\n"
        "results = belief_rl.evaluate_run('run', 64)\n"
        "print(sorted(results['strategies'])[0], "
        "'mujoco' in sys.modules and sys.modules['mujoco'] is not None)\n"
        "try:\n"
        "    belief_rl.make_env('belief_rl/NumPad-v0')\n"
        "except ImportError as exc:\n"
        "    print('numpad needs mujoco')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["bayes_ucb False", "numpad needs mujoco"]
