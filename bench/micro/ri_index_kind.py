"""ri-optimal paths with the density index against the typical-set index (and two alphas) on digits-vae.

    python -m bench.micro.ri_index_kind [--save]

8 pairs of prior samples, 12 frames, up to 400 Adam iterations from the chord. Prints a Markdown table, over the
interior frames: the midpoint's norm (typical: about 4 = sqrt(16)), the smallest norm, the typical-set index (mean,
smallest) and the digits classifier's confidence in its top class (mean, smallest); linear and LOL paths for
reference.
"""

import argparse

import torch

import latentcore as lc
from latentcore.models import load, load_classifier
from latentcore.realism import realisticity_index

from bench.report import add_save_option, saved_report

PAIRS, FRAMES = 8, 12


def report(name, paths, model, classifier):
    flat = paths.reshape(-1, model.prior.shape[0])
    with torch.no_grad():
        sure = classifier.predict_proba(model.decode(flat)).max(1).values.reshape(PAIRS, FRAMES)[:, 1:-1]
    norms = flat.norm(dim=1).reshape(PAIRS, FRAMES)[:, 1:-1]
    typical = realisticity_index(flat, prior=model.prior, kind="typical").reshape(PAIRS, FRAMES)[:, 1:-1]
    print(f"| {name} | {norms[:, FRAMES // 2 - 1].mean():.2f} | {norms.min():.2f} | {typical.mean():.3f} / "
          f"{typical.min():.3f} | {sure.mean():.3f} / {sure.min():.3f} |")


def main():
    parser = argparse.ArgumentParser(prog="python -m bench.micro.ri_index_kind", description=__doc__.split("\n\n")[0])
    add_save_option(parser)
    args = parser.parse_args()
    with saved_report("bench.micro.ri_index_kind", args.save):
        _table()


def _table():
    model, classifier = load("digits-vae"), load_classifier()
    z = model.prior.sample(2 * PAIRS, seed=3).reshape(PAIRS, 2, -1)
    z0, z1 = z[:, 0], z[:, 1]
    t = torch.linspace(0, 1, FRAMES)
    print("| path | midpoint norm | smallest norm | typical-set index: mean / smallest | classifier's confidence: "
          "mean / smallest |")
    print("|---|---|---|---|---|")
    report("linear", torch.lerp(z0[:, None], z1[:, None], t[None, :, None]), model, classifier)
    report("LOL", lc.interpolate(z0, z1, FRAMES, scheme="lol", prior=model.prior), model, classifier)
    for kind, label in (("density", "density"), ("typical", "typical set")):
        for alpha in (0.5, 0.9):
            result = lc.SCHEMES["ri-optimal"].path(z0, z1, t, model.prior, decoder=model, alpha=alpha, kind=kind,
                                                 start="chord", max_iter=400)
            report(f"ri-optimal, {label}, alpha {alpha}", result.path, model, classifier)


if __name__ == "__main__":
    main()
