"""Shared test setup: small thread counts and an isolated cache directory."""

import os

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    # The Gittins table cache must not depend on (or write to) the user's home.
    cache = tmp_path_factory.getbasetemp() / "belief_rl_cache"
    monkeypatch.setenv("BELIEF_RL_CACHE_DIR", str(cache))
    os.makedirs(cache, exist_ok=True)
