"""The sigmoid-based tanh equals torch.tanh, in value and gradient."""

import torch

from belief_rl.networks.activations import Tanh, tanh


def test_tanh_matches_torch_in_value_and_gradient():
    x = torch.linspace(-12, 12, 20001, dtype=torch.float32, requires_grad=True)
    ours = tanh(x)
    reference = torch.tanh(x.detach())
    assert (ours - reference).abs().max() < 3e-7
    weights = torch.randn_like(reference)
    (grad,) = torch.autograd.grad((ours * weights).sum(), x)
    assert torch.allclose(grad, weights * (1 - reference**2), atol=5e-6)
    assert (Tanh()(x.detach()) - reference).abs().max() < 3e-7


def test_tanh_passes_gradcheck_in_double():
    x = torch.randn(64, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(tanh, (x,))
