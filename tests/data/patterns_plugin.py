"""A test plug-in: a class-conditional generator of 3x24x24 patterns with a judge beside it (not one of the examples).

Each class has its own fixed pattern; an image is ``0.5 + 0.3 (|z| / sqrt(D)) pattern_c + 0.05 texture(z)``, so the
pattern fades where the latent's norm is atypically small (a linear midpoint between two prior samples has about
0.7 of the typical norm). The judge correlates an image with every class pattern: its label is the best class
where the correlation reaches 80 % of a typical sample's, else -1 (no class); its features are the correlations,
the mean and the spread of the image.
"""

import torch

import latentcore.models as models

CLASSES = 4
DIM = 256
SHAPE = (3, 24, 24)
AMPLITUDE = 0.3
SURE = 0.8  # of a typical sample's correlation: below it the judge names no class


class Patterns(torch.nn.Module):
    def __init__(self):
        super().__init__()
        generator = torch.Generator().manual_seed(7)
        patterns = torch.randn(CLASSES, *SHAPE, generator=generator).sign()
        self.register_buffer("patterns", patterns)
        self.texture = torch.nn.Linear(DIM, 3 * 24 * 24)
        with torch.no_grad():
            self.texture.weight.copy_(torch.randn(3 * 24 * 24, DIM, generator=generator) / DIM**0.5)
            self.texture.bias.zero_()

    def forward(self, z, label):
        scale = z.norm(dim=1) / DIM**0.5
        pattern = self.patterns[int(label)]
        texture = torch.tanh(self.texture(z)).view(-1, *SHAPE)
        return (0.5 + AMPLITUDE * scale[:, None, None, None] * pattern + 0.05 * texture).clamp(0, 1)


_REFERENCE = Patterns()  # the same fixed patterns the module builds


def _correlations(images):
    centred = (images - 0.5).flatten(1)
    return centred @ _REFERENCE.patterns.to(images).flatten(1).T / centred.shape[1]


def predict(images):
    corr = _correlations(images)
    best, label = corr.max(1)
    return torch.where(best >= SURE * AMPLITUDE, label, torch.full_like(label, -1))


def features(images):
    flat = images.flatten(1)
    return torch.cat([_correlations(images), flat.mean(1, keepdim=True), flat.std(1, keepdim=True)], 1)


model = models.Plugin(
    "pattern-cgan", Patterns, latent_shape=(DIM,), output_range=(0, 1), kind="gan",
    description="A class-conditional test generator: a fixed pattern per class, fading at small latent norms.",
    conditions=[models.Condition("label", int, 0, choices=tuple(range(CLASSES)))],
    judge=models.Judge("pattern-correlator", predict, features, class_condition="label"))
