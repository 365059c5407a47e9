"""Flow-matching decoding and inversion against the exact flow of Gaussian data."""

import torch

from latentcore.models.flow import flow_decode, flow_invert, flow_scheduler

MEAN, STD = 0.7, 0.3  # data N(MEAN, STD^2) per element: the flow between it and N(0, I) is known in closed form


def exact_velocity(x, t):
    """v(x, s) of x_s = (1 - s) MEAN + sd(s) x_1 with sd(s) = sqrt((1 - s)^2 STD^2 + s^2)."""
    s = (torch.as_tensor(t, dtype=torch.float32) / 1000).reshape(-1, *[1] * (x.dim() - 1))
    sd = torch.sqrt((1 - s) ** 2 * STD ** 2 + s ** 2)
    return -MEAN + (x - (1 - s) * MEAN) * (-(1 - s) * STD ** 2 + s) / sd ** 2


def test_euler_decode_and_inversion_converge_to_the_exact_flow():
    scheduler = flow_scheduler({"num_train_timesteps": 1000, "shift": 1.0, "_class_name": "ignored"})
    noise = torch.randn(8, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    errors = []
    for steps in (10, 50, 200):
        data = flow_decode(exact_velocity, scheduler, noise, steps)
        back = flow_invert(exact_velocity, scheduler, data, steps)
        errors.append(((data - (MEAN + STD * noise)).abs().max().item(), (back - noise).abs().max().item()))
    assert errors[-1][0] < 0.02 and errors[-1][1] < 0.1
    for coarse, fine in zip(errors, errors[1:]):  # first order: 4-5x more steps, 3x smaller error at least
        assert fine[0] < coarse[0] / 3 and fine[1] < coarse[1] / 3
    assert scheduler.step_index is None  # the model's scheduler is untouched: decoding works on a copy
