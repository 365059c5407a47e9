"""A plain GAN generator as a Latent Explorer model: streamlit run app.py -- --models examples/plugins/plain_gan.py"""
import torch
from torch import nn

from latentcore.models import Plugin


class Generator(nn.Module):
    """DCGAN-style: a latent [N, 64, 1, 1] to images [N, 3, 32, 32] in [-1, 1]."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.ConvTranspose2d(64, 64, 4, 1, 0), nn.BatchNorm2d(64), nn.ReLU(),  # 4x4
            nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.BatchNorm2d(32), nn.ReLU(),  # 8x8
            nn.ConvTranspose2d(32, 16, 4, 2, 1), nn.BatchNorm2d(16), nn.ReLU(),  # 16x16
            nn.ConvTranspose2d(16, 3, 4, 2, 1), nn.Tanh())                       # 32x32

    def forward(self, z):
        return self.net(z)


def build():
    """Your trained generator: Generator() then load_state_dict(safetensors.torch.load_file(path)). Here: random
    weights from a fixed seed, the same on every device."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return Generator()


model = Plugin("example-gan", build, latent_shape=(64, 1, 1), prior="standard-normal", output_range=(-1, 1),
               layout="NCHW", kind="gan", description="An untrained DCGAN-style generator: 64 -> 3x32x32.")
