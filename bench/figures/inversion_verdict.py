"""The out-of-domain verdict of an inversion (:mod:`latentcore.reach`) on images a model can and cannot make: does
it accept the model's own samples and flag everything else?

Per model and inversion method, with the same settings for every inversion (the reference included; with
``--image-restarts`` the images get more restarts than the reference, as uploads do in the app):

- the reference: ``lc.typical_error`` (its ``--samples`` own images, seed 20000; this calibrates the verdict);
- in-domain images: ``--held-out`` of the model's own samples decoded from fresh prior latents (seed 1000, which
  the reference never sees), and for the digits models held-out real digits (the split the models were not trained
  on; no package ships the faces ``faces-dcgan`` was trained on, DigiFace-1M, so its in-domain images are its own
  samples only);
- out-of-domain images, every one made here or shipped by scikit-learn (no download): the two photographs of
  ``sklearn.datasets.load_sample_images()`` (a pagoda, a flower), whole and in square crops; linear colour
  gradients, one 3000x3000; radial-gradient discs on a plain background; white noise and smooth colour noise;
  flat colours; text rendered with Pillow's default font; 1x1 images. Photos, gradients, discs, flat colours,
  text and 1x1 images go through the app's upload path (PNG bytes, ``imaging.load_image``). They are drawn with
  ``--variant`` (crops, colours, positions, words). The verdict's factors were chosen while looking at other images
  of these kinds (fixed colours and crops, not drawn by this script), so every variant's are held out.

Per image set: the median PSNR and edge mismatch, the verdicts (typical / unusual / far) of the pixel error alone
(the verdict before the edge and image-statistics criteria) and of the verdict now, and which far criteria
decided. Then the separation: the AUC of in-domain against out-of-domain images for the pixel error and for the
edge mismatch, and each verdict's false-reject rate (in-domain images called ``far``; ``unusual`` in brackets) and
false-accept rate (out-of-domain images called ``typical``).

    python -m bench.figures.inversion_verdict [--models faces-dcgan digits-vae digits-ddim] [--samples 16]
        [--held-out 16] [--max-iter 300] [--restarts 1] [--image-restarts N] [--variant 1] [--save SUFFIX]

Prints the tables in Markdown and the time each model took (``--save``: also to ``docs/benchmarks/``, with the
machine's threads and load).
"""

from __future__ import annotations

import argparse
import io
import time

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

import latentcore as lc
import latentcore.models as models
from latentcore import imaging
from latentcore.reach import Measures, TypicalError

from bench.report import add_save_option, saved_report

VERDICTS = ("typical", "unusual", "far")
FAR = ("smooth", "flat", "pixels", "edges")
IN_DOMAIN = ("own samples", "held-out real digits")


def uploaded(array: np.ndarray, size) -> torch.Tensor:
    """``array`` (uint8 ``[H, W, 3]``) as the app receives it: PNG bytes, loaded and shrunk towards ``size``."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(buffer, format="PNG")
    return imaging.load_image(buffer.getvalue(), "image.png", size)


def ramp(h: int, w: int, start, end, angle: float) -> np.ndarray:
    """A linear gradient from colour ``start`` to ``end`` along the direction ``angle`` (radians), ``[h, w, 3]``."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    t = np.cos(angle) * x / max(w - 1, 1) + np.sin(angle) * y / max(h - 1, 1)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-9)
    a, b = np.asarray(start, np.float32), np.asarray(end, np.float32)
    return (a + t[..., None] * (b - a)).round().astype(np.uint8)


def disc(size: int, centre, radius: float, inner, outer, background) -> np.ndarray:
    """A disc whose colour runs radially from ``inner`` (centre) to ``outer`` (rim) on a plain ``background``."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    r = np.hypot(x - centre[0] * size, y - centre[1] * size) / (radius * size)
    colour = np.asarray(inner, np.float32) + np.clip(r, 0, 1)[..., None] * (
        np.asarray(outer, np.float32) - np.asarray(inner, np.float32))
    return np.where((r <= 1)[..., None], colour, np.asarray(background, np.float32)).round().astype(np.uint8)


def text(size: int, words, ink, paper) -> np.ndarray:
    picture = Image.new("RGB", (size, size), tuple(int(c) for c in paper))
    draw = ImageDraw.Draw(picture)
    font = ImageFont.load_default(size=size // 5)
    for k, word in enumerate(words):
        draw.text((size // 10, size // 10 + k * size // 4), word, fill=tuple(int(c) for c in ink), font=font)
    return np.asarray(picture)


def out_of_domain(model, variant: int) -> dict[str, list[torch.Tensor]]:
    """Named lists of out-of-domain images (``[1, C, H, W]`` each, any size), drawn with ``variant``."""
    from sklearn.datasets import load_sample_images

    size = model.image_shape[1:]
    g = np.random.default_rng(variant)
    colour = lambda: g.integers(0, 256, 3)  # noqa: E731
    pagoda, flower = load_sample_images().images  # 427 x 640 x 3 each

    def crops(photo):
        h, w = photo.shape[:2]
        out = [photo]
        for side in (h, 200, 150, 100):
            top, left = g.integers(0, h - side + 1), g.integers(0, w - side + 1)
            out.append(photo[top:top + side, left:left + side])
        return [uploaded(c, size) for c in out]

    sets = {"pagoda photo (whole, 4 crops)": crops(pagoda), "flower photo (whole, 4 crops)": crops(flower)}
    sets["gradients 256x256"] = [uploaded(ramp(256, 256, colour(), colour(), g.uniform(0, 2 * np.pi)), size)
                                 for _ in range(4)]
    sets["gradient 3000x3000"] = [uploaded(ramp(3000, 3000, colour(), colour(), g.uniform(0, 2 * np.pi)), size)]
    sets["gradient discs"] = [uploaded(disc(256, g.uniform(0.35, 0.65, 2), g.uniform(0.2, 0.35), colour(), colour(),
                                            colour()), size) for _ in range(3)]
    smooth = torch.nn.functional.interpolate(torch.from_numpy(g.random((3, 3, 4, 4), dtype=np.float32)),
                                             size=(64, 64), mode="bicubic", align_corners=False).clamp(0, 1)
    sets["noise (white; smooth colour)"] = [uploaded(g.integers(0, 256, (64, 64, 3), dtype=np.uint8), size),
                                            *smooth.split(1)]
    sets["flat colours"] = [uploaded(np.full((64, 64, 3), c, np.uint8), size)
                            for c in ((0, 0, 0), (255, 255, 255), colour(), colour())]
    words = (["Latent", "space"], ["Hello,", "GAN"], ["A face?", "No."], ["pixels", "only"])
    sets["text"] = [uploaded(text(256, words[(variant + k) % 4], ink, paper), size)
                    for k, (ink, paper) in enumerate((((0, 0, 0), (255, 255, 255)), (colour(), colour())))]
    sets["1x1 image"] = [uploaded(np.full((1, 1, 3), colour(), np.uint8), size) for _ in range(2)]
    return sets


def auc(inside: np.ndarray, outside: np.ndarray) -> float:
    """P(an out-of-domain score > an in-domain one), ties counting half."""
    a, b = np.asarray(inside)[None], np.asarray(outside)[:, None]
    return float((b > a).mean() + 0.5 * (b == a).mean())


def counts(verdicts: np.ndarray) -> str:
    return " / ".join(str(int((verdicts == v).sum())) for v in VERDICTS)


def measure(model, method: str, args, settings: dict) -> None:
    began = time.perf_counter()
    reference = lc.typical_error(model, method=method, samples=args.samples, **settings)
    pixels_only = TypicalError(reference.model, method, reference.errors, reference.stopped_by, reference.seconds)
    own = model.decode(model.prior.sample(args.held_out, seed=1000, device=model.device))
    sets = {"own samples": [own]}
    if model.name.startswith("digits"):
        from latentcore.models.data import digits

        sets["held-out real digits"] = [digits("heldout")[0][:args.held_out]]
    sets.update(out_of_domain(model, args.variant))
    names = list(sets)
    batches = [model.prepare_images(list(sets[name])) for name in names]
    inverting = dict(settings, restarts=args.image_restarts) if settings and args.image_restarts else settings
    found = lc.invert(model, torch.cat(batches), method=method, **inverting)  # one batch, as the app inverts uploads
    every = Measures.of(found)
    label = lc.inversion_methods(model)[method]
    print(f"\n**{model.name}, {label.lower()}** ({', '.join(f'{k} {v}' for k, v in settings.items()) or 'one pass'}"
          f"{f'; the images with {args.image_restarts} restarts' if inverting != settings else ''}"
          f"; {found.stopped_by} after {found.iterations} iterations). Reference: {len(reference.errors)} own "
          f"samples, pixel error 95th percentile {reference.p95:.2g} (far above {reference.threshold:.2g}), edge "
          f"mismatch 95th percentile {reference.edge_p95:.2f} (far above {reference.edge_threshold:.2f}), detail "
          f"floor {reference.detail_floor:.2g}, flat share limit {reference.flat_limit:.0%}; {reference.seconds:.0f} "
          "s\n")
    print("| images | n | median PSNR | median edge mismatch | pixel error alone: typical / unusual / far | "
          "verdict now: typical / unusual / far | far by: smooth / flat / pixels / edges |")
    print("|---|---|---|---|---|---|---|")
    start, rows = 0, {}
    for name, batch in zip(names, batches):
        part = slice(start, start + len(batch))
        start += len(batch)
        m = Measures(every.mse[part], every.mismatch[part], every.detail[part], every.flat[part])
        rows[name] = (m, pixels_only.verdicts(m), reference.verdicts(m))
        met = reference.criteria(m)
        print(f"| {name} | {len(batch)} | {np.median(found.psnr[part]):.1f} dB | {np.median(m.mismatch):.2f} | "
              f"{counts(rows[name][1])} | {counts(rows[name][2])} | "
              f"{' / '.join(str(int(met[k].sum())) for k in FAR)} |")
    inside = [rows[n] for n in names if n in IN_DOMAIN]
    outside = [rows[n] for n in names if n not in IN_DOMAIN]
    cat = lambda rs, i: np.concatenate([r[i] for r in rs])  # noqa: E731
    mse_in, mse_out = (np.concatenate([r[0].mse for r in rs]) for rs in (inside, outside))
    s_in, s_out = (np.concatenate([r[0].mismatch for r in rs]) for rs in (inside, outside))
    print(f"\nSeparation ({len(mse_in)} in-domain, {len(mse_out)} out-of-domain images): AUC of the pixel error "
          f"{auc(mse_in, mse_out):.2f}, of the edge mismatch {auc(s_in, s_out):.2f}.\n")
    print("| verdict | in-domain called far (unusual) | out-of-domain called typical | out-of-domain called far |")
    print("|---|---|---|---|")
    for title, i in (("pixel error alone", 1), ("verdict now", 2)):
        v_in, v_out = cat(inside, i), cat(outside, i)
        print(f"| {title} | {np.mean(v_in == 'far'):.0%} ({np.mean(v_in == 'unusual'):.0%}) | "
              f"{np.mean(v_out == 'typical'):.0%} | {np.mean(v_out == 'far'):.0%} |")
    for name in names:  # in-domain images the verdict rejects, by name, so that a reader can look at them
        if name in IN_DOMAIN and (rows[name][2] == "far").any():
            print(f"\n{name} called far: {int((rows[name][2] == 'far').sum())}")
    print(f"\n({time.perf_counter() - began:.0f} s)", flush=True)


def main():
    parser = argparse.ArgumentParser(prog="python -m bench.figures.inversion_verdict",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["faces-dcgan", "digits-vae", "digits-ddim"],
                        help="models to measure (default: %(default)s)")
    parser.add_argument("--samples", type=int, default=16,
                        help="the reference's own samples (default %(default)s, the app's)")
    parser.add_argument("--held-out", type=int, default=16,
                        help="held-out own samples, and real digits, per model (default %(default)s)")
    parser.add_argument("--max-iter", type=int, default=300, help="max_iter of every optimisation (default "
                        "%(default)s)")
    parser.add_argument("--restarts", type=int, default=1,
                        help="restarts of every optimisation (default %(default)s, the app's reference)")
    parser.add_argument("--image-restarts", type=int, default=None,
                        help="restarts of the images' optimisation, where they differ from the reference's (the "
                             "app: 1 for the reference, 4 for uploads; default: --restarts)")
    parser.add_argument("--variant", type=int, default=1,
                        help="draws the out-of-domain images' crops, colours and words (default %(default)s)")
    add_save_option(parser)
    args = parser.parse_args()
    with saved_report("bench.figures.inversion_verdict", args.save):
        print(f"Out-of-domain variant {args.variant}.", flush=True)
        for name in args.models:
            model = models.load(name, device="cpu")
            for method in lc.inversion_methods(model):
                if method == "refine":
                    continue  # the encoder's latent refined: between the other two
                settings = {} if method == "encoder" else {"max_iter": args.max_iter, "restarts": args.restarts}
                measure(model, method, args, settings)


if __name__ == "__main__":
    main()
