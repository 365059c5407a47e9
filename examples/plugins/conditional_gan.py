"""A class-conditional GAN: the class is a one-hot vector beside the latent, chosen in the app's sidebar.
streamlit run app.py -- --models examples/plugins/conditional_gan.py"""
import torch
from torch import nn

from latentcore.models import Condition, Plugin

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(32 + len(CLASSES), 256), nn.ReLU(), nn.Linear(256, 3 * 32 * 32),
                                 nn.Tanh())

    def forward(self, z, label):  # z [N, 32]; label: one of CLASSES, the same for the whole batch
        onehot = nn.functional.one_hot(torch.tensor(CLASSES.index(label)), len(CLASSES)).to(z)
        return self.net(torch.cat([z, onehot.expand(len(z), -1)], 1)).view(-1, 3, 32, 32)


def build():
    with torch.random.fork_rng(devices=[]):  # random weights from a fixed seed; load your trained ones here
        torch.manual_seed(0)
        return Generator()


model = Plugin("example-cgan", build, latent_shape=(32,), output_range=(-1, 1), kind="gan",
               conditions=[Condition("label", str, "cat", "The class to draw", choices=CLASSES)],
               description="An untrained class-conditional generator: 32 + one-hot class -> 3x32x32.")
