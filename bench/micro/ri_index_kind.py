"""ri-optimal paths with the density index against the typical-set index (and two alphas) on digits-vae.

    python -m bench.micro.ri_index_kind

8 pairs of prior samples, 12 frames, up to 400 Adam iterations. For the interior frames: the midpoint's norm
(typical: about 4 = sqrt(16)), the smallest norm, the typical-set index (mean, smallest) and the digits
classifier's confidence in its top class (mean, smallest); linear and LOL paths for reference.
"""

import argparse

import torch

import latentcore as lc
from latentcore.models import load, load_classifier
from latentcore.realism import realisticity_index

PAIRS, FRAMES = 8, 12


def report(name, paths, model, classifier):
    flat = paths.reshape(-1, model.prior.shape[0])
    with torch.no_grad():
        sure = classifier.predict_proba(model.decode(flat)).max(1).values.reshape(PAIRS, FRAMES)[:, 1:-1]
    norms = flat.norm(dim=1).reshape(PAIRS, FRAMES)[:, 1:-1]
    typical = realisticity_index(flat, prior=model.prior, kind="typical").reshape(PAIRS, FRAMES)[:, 1:-1]
    print(f"{name:22s} midpoint norm {norms[:, FRAMES // 2 - 1].mean():.2f}  smallest {norms.min():.2f}  "
          f"typical-set index mean {typical.mean():.3f} smallest {typical.min():.3f}  "
          f"classifier confidence mean {sure.mean():.3f} smallest {sure.min():.3f}")


def main():
    argparse.ArgumentParser(prog="python -m bench.micro.ri_index_kind",
                            description=__doc__.split("\n\n")[0]).parse_args()
    model, classifier = load("digits-vae"), load_classifier()
    z = model.prior.sample(2 * PAIRS, seed=3).reshape(PAIRS, 2, -1)
    z0, z1 = z[:, 0], z[:, 1]
    t = torch.linspace(0, 1, FRAMES)
    report("linear", torch.lerp(z0[:, None], z1[:, None], t[None, :, None]), model, classifier)
    report("LOL", lc.interpolate(z0, z1, FRAMES, scheme="lol", prior=model.prior), model, classifier)
    for kind in ("density", "typical"):
        for alpha in (0.5, 0.9):
            result = lc.SCHEMES["ri-optimal"].path(z0, z1, t, model.prior, decoder=model, alpha=alpha, kind=kind,
                                                 start="chord", max_iter=400)  # the README's figures: the chord
            report(f"ri-optimal {kind} a={alpha}", result.path, model, classifier)


if __name__ == "__main__":
    main()
