"""Interpolation schemes behind one registry, :data:`SCHEMES`.

A scheme turns endpoint pairs ``z0, z1 [B, D]`` (flattened latents) and times ``t [S]`` in [0, 1] into paths
``[B, S, D]``. :func:`interpolate` is the one entry point: it validates shapes against the prior, runs the
scheme as one batch and pins the endpoints to the inputs exactly. Adding a scheme is one
:func:`register_scheme` call with a :class:`Scheme`, which also carries the scheme's policy (options for the
app and the evaluation, whether it needs a decoder, the models it is too slow for, whether the app preselects it).

- ``linear``: ``(1 - t) x + t y``.
- ``slerp``: ``sin((1 - t) W) / sin W x + sin(t W) / sin W y`` with ``cos W = <x, y> / (|x| |y|)`` clipped to
  [-1, 1] (Shoemake 1985; White, arXiv 1609.04468). Near-parallel endpoints (and zero vectors) fall back to
  linear. Near-antipodal endpoints have no unique great circle and the formula's coefficients blow up, so the
  path turns from ``x`` towards a fixed direction ``v`` orthogonal to ``x`` (the part of ``y`` orthogonal to
  ``x`` when it is measurable, else the coordinate axis least aligned with ``x``) with the norm interpolated
  linearly: ``((1 - t)|x| + t|y|) (cos(t W) x/|x| + sin(t W) v)``.
- ``lol``: LOL with ``w = (1 - t, t)``: ``mu + ((1 - t)(x - mu) + t (y - mu)) / sqrt((1 - t)^2 + t^2)``
  (arXiv 2408.08558); independent non-Gaussian elements go through normal scores (see :mod:`.combine`).
- ``nao``: norm-aware optimisation (Samuel et al., arXiv 2306.08687), registered by :mod:`.nao`.
- ``ri-optimal``: ri-optimal interpolation (Struski et al., "Interpolation in generative models", Eq. 3),
  registered by :mod:`.ri_optimal` (named ``geodesic`` before latentcore 1.1).
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import TYPE_CHECKING, Any, Callable

import torch

from .combine import from_lol_space, lol_is_exact, to_lol_space
from .device import as_tensor
from .optimise import check_budget
from .priors import Prior
from .registry import BaseScheme, Registry
from .validation import (all_finite, check_choice, check_finite, check_int, check_latents, check_options,
                         keyword_options, resolve_prior)

if TYPE_CHECKING:
    from .models import Decoding

#: A progress callback; everywhere in latentcore it takes (fraction in [0, 1], short text).
Progress = Callable[[float, str], None]
#: A scheme's path function (see :attr:`Scheme.path`).
PathFn = Callable[..., torch.Tensor]

#: ``|sin W|`` below this counts as parallel (``cos W > 0``) or antipodal (``cos W < 0``) in SLERP.
SLERP_SIN_EPS = 1e-4


@dataclass(frozen=True)
class Setting:
    """An option of a scheme that a user may choose: a number with its bounds and step (the app shows a slider), or
    one of ``choices`` named by ``choice_labels`` (the app shows a selectbox). ``help`` says what it changes.

    Parameters
    ----------
    name
        The keyword option of the scheme's function that it sets (e.g. ``"alpha"``).
    label
        The name the app shows.
    default
        The value a scheme runs with unless one is chosen (:meth:`Scheme.options`).
    low
        The lower bound of a number's slider. Default None.
    high
        The upper bound of a number's slider. Default None.
    step
        The step of a number's slider. Default None.
    help
        What the option changes, in a sentence or two. Default ``""``.
    choices
        The values to choose from (the app then shows a selectbox). Default None: a number.
    choice_labels
        How the app names each of ``choices``, in their order. Default None: by the values themselves.
    """

    #: The keyword option of the scheme's function that it sets (e.g. ``"alpha"``).
    name: str
    #: The name the app shows.
    label: str
    #: The value a scheme runs with unless one is chosen.
    default: Any
    #: The lower bound of a number's slider.
    low: float | None = None
    #: The upper bound of a number's slider.
    high: float | None = None
    #: The step of a number's slider.
    step: float | None = None
    #: What the option changes, in a sentence or two.
    help: str = ""
    #: The values to choose from (None for a number).
    choices: tuple | None = None
    #: How the app names each of :attr:`choices`, in their order (None for the values themselves).
    choice_labels: tuple[str, ...] | None = None

    def label_of(self, value) -> str:
        """How the app names a value: one of :attr:`choices` by its label, a number in short form.

        Parameters
        ----------
        value
            A value of the setting.

        Returns
        -------
        str
            The label of ``value`` among :attr:`choices` (``str(value)`` where it is none of them), or for a
            number setting the number formatted with ``:g``.
        """
        if self.choices is None:
            return f"{value:g}" if isinstance(value, (int, float)) else str(value)
        return dict(zip(self.choices, self.choice_labels or self.choices)).get(value, str(value))


@dataclass(frozen=True)
class Scheme(BaseScheme):
    """One interpolation scheme and its policy; the fields it shares with centroid schemes are those of
    :class:`~latentcore.registry.BaseScheme`.

    ``path(z0 [B, D], z1 [B, D], t [S], prior, *, progress=None, **options)`` computes the paths ``[B, S, D]`` of
    flattened endpoints; its keyword parameters are the scheme's options. Iterative schemes also take
    ``budget_s`` and ``should_stop`` and return a result with the ``path`` and its ``stopping``
    (:class:`~latentcore.optimise.Stopping`).

    Policy, read by :meth:`options` so that callers never name a scheme:

    - ``iterative``: it optimises (slower; reports progress through ``progress``).
    - ``uses_decoder``: it takes ``decoder=`` (a callable from latents to images), the model's own when run for a
      model; with ``loop_steps``, models with a sampler also give ``loop_decoder=``, the same decoder with that
      many sampler steps, for the optimisation loop.
    - ``settings``: the options a user may choose, with bounds (e.g. ri-optimal paths' ``alpha``).
    - ``interactive`` / ``evaluation``: fixed options for the app's pages (bounded for a person waiting) and for
      :mod:`latentcore.evaluate` (the published settings where there are some).
    - ``slow_on(model)``: why one run takes minutes for ``model`` on its device (None when it does not); the
      scheme is then not offered for it.
    - ``playground``: meaningful on the 2-D priors of the geometry playground (no decoder).
    - ``caveat(prior)``: what the description does not hold for on ``prior`` (None where it holds).
    - ``in_default_selection``: the app's pages preselect it.

    Parameters
    ----------
    name
        The key in :data:`SCHEMES`, e.g. ``"slerp"``.
    label
        The name pages show.
    description
        The precise description: the formula and the paper.
    path
        The function computing the paths, as above.
    in_default_selection, formerly, summary, iterative, interactive, evaluation
        As in :class:`~latentcore.registry.BaseScheme`.
    uses_decoder
        Whether ``path`` takes ``decoder=``. Default False.
    loop_steps
        Sampler steps of the ``loop_decoder=`` given to ``path`` for models with a sampler. Default
        None: no ``loop_decoder``.
    settings
        The options a user may choose. Default ``()``.
    slow_on
        ``slow_on(model)``: why one run takes minutes for ``model`` (None when it does not). Default
        None: offered for every model.
    playground
        Whether the geometry playground offers it. Default True.
    caveat
        ``caveat(prior)``: what the description does not hold for on ``prior`` (None where it
        holds). Default None.
    """

    #: The function computing the paths, ``path(z0 [B, D], z1 [B, D], t [S], prior, *, progress=None, **options)
    #: -> [B, S, D]`` (for iterative schemes, a result holding them in its ``path``).
    path: PathFn
    _: KW_ONLY  # the policy goes by name, as the shared fields of BaseScheme do
    #: Whether :attr:`path` takes ``decoder=`` (a callable from latents to images).
    uses_decoder: bool = False
    #: Sampler steps of the ``loop_decoder=`` passed for models with a sampler (None for none).
    loop_steps: int | None = None
    #: The options a user may choose, with their bounds or choices.
    settings: tuple[Setting, ...] = ()
    #: ``slow_on(model)`` says why one run takes minutes for ``model`` on its device (None when it does not).
    slow_on: Callable[[Any], str | None] | None = None
    #: Whether the scheme is meaningful on the 2-D priors of the geometry playground (no decoder).
    playground: bool = True
    #: ``caveat(prior)`` says what the description does not hold for on ``prior`` (None where it holds).
    caveat: Callable[[Prior], str | None] | None = None

    #: The attribute of an iterative run's result that holds the paths.
    result_field = "path"

    @property
    def compute(self) -> PathFn:
        """:attr:`path`."""
        return self.path

    def description_for(self, prior: Prior) -> str:
        """:attr:`~latentcore.registry.BaseScheme.description`, with what it does not promise for ``prior`` when
        ``caveat(prior)`` says so (e.g. LOL's exact distribution holds for Gaussian priors and independent elements
        only).

        Parameters
        ----------
        prior
            The prior the scheme is described for.

        Returns
        -------
        str
            The description, followed by the caveat where there is one.
        """
        why = self.caveat(prior) if self.caveat is not None else None
        return f"{self.description} {why}" if why else self.description

    def summary_for(self, prior: Prior) -> str:
        """:attr:`~latentcore.registry.BaseScheme.lead` (the summary for someone meeting the scheme first), with
        ``caveat(prior)`` as :meth:`description_for` has it.

        Parameters
        ----------
        prior
            The prior the scheme is described for.

        Returns
        -------
        str
            The summary (or the description where there is none), followed by the caveat where there is one.
        """
        why = self.caveat(prior) if self.caveat is not None else None
        return f"{self.lead} {why}" if why else self.lead

    @property
    def option_names(self) -> tuple[str, ...]:
        """The keyword options of :attr:`path`, besides the run controls ``progress``, ``budget_s`` and
        ``should_stop``: the names :func:`interpolate` accepts as ``**options`` for this scheme."""
        return keyword_options(self.path)

    def unsuited_reason(self, model=None) -> str | None:
        """Why the scheme is not offered for ``model`` (None when it is).

        Parameters
        ----------
        model : latentcore.models.GenerativeModel or None
            The model; None (the default) means no model, for which every scheme is offered.

        Returns
        -------
        str or None
            ``slow_on(model)``, or None where the scheme has no ``slow_on`` or no model is given.
        """
        return self.slow_on(model) if model is not None and self.slow_on is not None else None

    def options(self, model=None, *, context: str | None = None, decoding: Decoding | None = None,
                **chosen) -> dict:
        """The options to run this scheme with: its settings' defaults, the fixed options of ``context``
        (``"interactive"`` or ``"evaluation"``), the decoder of ``model`` with its ``decoding`` (a
        :class:`~latentcore.models.Decoding`; default the model's defaults) when the scheme uses one, then the
        ``chosen`` settings.

        Parameters
        ----------
        model : latentcore.models.GenerativeModel or None
            The model the scheme runs for; its decoder is added for schemes that use one. Default None.
        context
            ``"interactive"``, ``"evaluation"`` or None (no fixed options; the default).
        decoding
            How ``model`` decodes (:class:`~latentcore.models.Decoding`); default the model's
            defaults. With :attr:`loop_steps` and a model with a sampler, ``loop_decoder`` takes the same options
            with ``loop_steps`` steps.
        **chosen
            Values of the scheme's :attr:`settings`, by name; they take precedence.

        Returns
        -------
        dict
            Keyword options for :attr:`path` (and for :func:`interpolate`): the settings' defaults, the fixed
            options of ``context``, ``decoder`` and ``loop_decoder`` where they apply, then ``chosen``.

        Raises
        ------
        ValueError
            When ``chosen`` names an option that is not one of the scheme's settings, or ``context`` is unknown.
        """
        check_options(f"the {self.label} scheme's settings", chosen, [s.name for s in self.settings])
        out = {s.name: s.default for s in self.settings}  # the same defaults on every page and in the evaluation
        out.update(super().options(context=context))
        if self.uses_decoder and model is not None:
            out["decoder"] = model.decoder(decoding)
            if self.loop_steps is not None and model.sampler is not None:  # the same options, fewer steps
                options = (decoding or model.decoding()).options
                out["loop_decoder"] = model.decoder(steps=self.loop_steps, **{k: v for k, v in options.items()
                                                                              if k != "steps"})
        out.update(chosen)
        return out


def _pairs_path(z0: torch.Tensor, z1: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a z0 + b z1`` for coefficients ``[B, S]`` (or ``[S]``, shared by all pairs): two elementwise passes over
    the ``[B, S, D]`` output (a product, then an in-place multiply-add). No stock kernel forms it in one pass, and a
    batched matmul with a contraction dimension of 2 is several times slower on CPUs."""
    col = lambda w: w.to(z0.dtype).reshape(-1 if w.dim() == 2 else 1, w.shape[-1], 1)  # noqa: E731
    out = torch.mul(z0.unsqueeze(1), col(a))
    return out.addcmul_(z1.unsqueeze(1), col(b))


def linear_path(z0, z1, t, prior, *, progress=None):
    """``(1 - t) z0 + t z1``, one fused pass (``torch.lerp``)."""
    return torch.lerp(z0.unsqueeze(1), z1.unsqueeze(1), t.to(z0.dtype).reshape(1, -1, 1))


def slerp_path(z0, z1, t, prior, *, progress=None):
    """Spherical linear interpolation about the origin; finite for every pair of endpoints (module docstring).
    The angles and coefficients ``[B, S]`` are computed in float64, the path in the latents' dtype."""
    x, y, tt = z0.double(), z1.double(), t.double()
    nx, ny = torch.linalg.vector_norm(x, dim=1), torch.linalg.vector_norm(y, dim=1)
    cos = torch.linalg.vecdot(x, y).div_(nx * ny).clamp_(-1.0, 1.0)  # NaN where an endpoint is zero
    omega = torch.arccos(cos)
    sin = torch.sin(omega)
    degenerate = (sin >= SLERP_SIN_EPS).logical_not_().unsqueeze(1)  # near-parallel, near-antipodal or zero
    rest = tt.neg().add_(1.0)
    inv_sin = sin.reciprocal().unsqueeze(1)
    a = torch.where(degenerate, rest, torch.outer(omega, rest).sin_().mul_(inv_sin))
    b = torch.where(degenerate, tt, torch.outer(omega, tt).sin_().mul_(inv_sin))
    out = _pairs_path(z0, z1, a, b)
    antipodal = degenerate.squeeze(1) & (cos < 0)  # a zero endpoint's NaN cosine is not < 0: it stays linear
    if bool(antipodal.any()):
        out[antipodal] = _antipodal_paths(x[antipodal], y[antipodal], tt, torch.finfo(z0.dtype).eps).to(out.dtype)
    return out


def _antipodal_paths(x: torch.Tensor, y: torch.Tensor, t: torch.Tensor, eps: float) -> torch.Tensor:
    """Paths ``[b, S, D]`` (float64) between near-antipodal nonzero endpoints ``[b, D]``: from ``x`` towards a
    fixed direction ``v`` orthogonal to it, the norm interpolated linearly (module docstring). The part of ``y``
    orthogonal to ``x`` is that direction where it is longer than ``1000 eps`` (``eps`` of the latents' dtype)."""
    nx, ny = torch.linalg.vector_norm(x, dim=1), torch.linalg.vector_norm(y, dim=1)
    xu, yu = x / nx[:, None], y / ny[:, None]
    cos = (xu * yu).sum(1).clamp(-1.0, 1.0)
    omega = torch.arccos(cos)
    perp = yu - cos[:, None] * xu
    pn = torch.linalg.vector_norm(perp, dim=1)
    axis = torch.nn.functional.one_hot(xu.abs().argmin(1), xu.shape[1]).double()
    axis = axis - (axis * xu).sum(1, keepdim=True) * xu
    measurable = (pn > 1e3 * eps)[:, None]
    v = torch.where(measurable, perp / torch.where(measurable, pn[:, None], 1.0), axis)
    v = v / torch.linalg.vector_norm(v, dim=1, keepdim=True)
    radius = (1 - t)[None, :] * nx[:, None] + t[None, :] * ny[:, None]                  # [b, S]
    angle = t[None, :] * omega[:, None]
    turn = torch.cos(angle)[..., None] * xu[:, None, :] + torch.sin(angle)[..., None] * v[:, None, :]
    return radius[..., None] * turn


def lol_path(z0, z1, t, prior, *, progress=None):
    """LOL interpolation, ``w = (1 - t, t)``. Since ``sum_i w_i (x_i - mu) / ||w||`` is the linear path about
    ``mu`` divided by ``sqrt((1 - t)^2 + t^2) = sqrt(1 - 2 t (1 - t))``, it is one fused ``lerp`` and an in-place
    rescale."""
    s0, centre = to_lol_space(z0, prior)
    s1, _ = to_lol_space(z1, prior)
    if centre is not None:
        s0, s1 = s0 - centre, s1 - centre
    tt = t.to(s0.dtype)
    out = torch.lerp(s0.unsqueeze(1), s1.unsqueeze(1), tt.reshape(1, -1, 1))
    out.mul_(tt.mul(tt.sub(1.0)).mul_(2.0).add_(1.0).rsqrt_().reshape(1, -1, 1))
    if centre is not None:
        out.add_(centre)
    return from_lol_space(out.reshape(-1, out.shape[-1]), prior).reshape(out.shape)


#: The interpolation schemes by name, one :class:`Scheme` each (``linear``, ``slerp``, ``lol``, ``nao``,
#: ``ri-optimal`` and any registered with :func:`register_scheme`).
SCHEMES: Registry[Scheme] = Registry("interpolation scheme")


def register_scheme(scheme: Scheme, *, replace: bool = False) -> Scheme:
    """Add a scheme to :data:`SCHEMES` (a taken name is an error unless ``replace``); the app, the evaluation and
    the playground list whatever it holds.

    Parameters
    ----------
    scheme
        The scheme; its ``name`` is the key.
    replace
        Replace the scheme registered under the same name. Default False.

    Returns
    -------
    Scheme
        ``scheme`` itself.

    Raises
    ------
    ValueError
        When the name is taken and ``replace`` is False, or a former name clashes (see
        :meth:`~latentcore.registry.Registry.register`).
    """
    return SCHEMES.register(scheme, replace=replace)


register_scheme(Scheme("linear", "Linear", "(1 - t) x + t y: a straight chord; its midpoints have atypically "
                       "small norms for a Gaussian prior.", linear_path, in_default_selection=True,
                       summary="A straight line from one seed to the other. Watch the middle frames: they often "
                       "look faded or blurred, because the middle of the line lies closer to the centre of the "
                       "latent space than the latents the model learnt from."))
register_scheme(Scheme("slerp", "SLERP", "Spherical interpolation about the origin: follows the great circle "
                       "between the endpoints' directions (White, arXiv 1609.04468).", slerp_path,
                       in_default_selection=True,
                       summary="An arc around the centre of the latent space instead of a straight line, so the "
                       "middle frames stay about as far from the centre as the seeds; they usually look as sharp "
                       "as the seeds."))
def _lol_caveat(prior: Prior) -> str | None:
    if lol_is_exact(prior):
        return None
    return ("This prior is neither Gaussian nor made of independent elements, so here LOL keeps only its mean and "
            "covariance (the first two moments), not its whole distribution.")


register_scheme(Scheme("lol", "LOL", "Latent optimal linear combination with weights (1 - t, t): every point is "
                       "distributed exactly as the prior (Bodin et al., arXiv 2408.08558).", lol_path,
                       caveat=_lol_caveat, in_default_selection=True,
                       summary="The straight line, with each frame moved to the distance from the centre that the "
                       "model's own samples have, so every frame should look like a fresh sample of the model."))


def schemes_for(model) -> tuple[list[str], dict[str, str]]:
    """The names of the schemes offered for ``model``, and for each scheme that is not, why.

    Parameters
    ----------
    model : latentcore.models.GenerativeModel
        The model; each scheme's ``slow_on(model)`` decides (:meth:`Scheme.unsuited_reason`).

    Returns
    -------
    offered : list of str
        The names of the schemes offered, in registration order.
    reasons : dict
        The reason (a sentence) for each scheme not offered, by name.
    """
    reasons = {name: scheme.unsuited_reason(model) for name, scheme in SCHEMES.items()}
    return [name for name, why in reasons.items() if why is None], {n: why for n, why in reasons.items() if why}


def _endpoints(z0, z1, prior: Prior | None):
    z0 = as_tensor(z0)
    z1 = as_tensor(z1, device=z0.device)
    if z0.shape != z1.shape:
        raise ValueError(f"endpoints must have the same shape, got {tuple(z0.shape)} and {tuple(z1.shape)}")
    prior = resolve_prior(prior, z0, batched=False)
    f0, batch = check_latents(z0, prior, name="z0", batch_dims=(0, 1), finite=False)
    f1, _ = check_latents(z1, prior, name="z1", batch_dims=(0, 1), finite=False)
    if not all_finite(f0, f1):
        check_finite(f0, "z0")
        check_finite(f1, "z1")
    return f0, f1, batch, prior



def _checked_run(scheme: str, frames: int, budget_s: float | None, options: dict) -> tuple[Scheme, int, float | None]:
    """The registered scheme ``scheme``, with the options it takes, the frame count and the budget checked."""
    spec = SCHEMES[check_choice("interpolation scheme", scheme, SCHEMES)]
    check_options(f"the interpolation scheme {scheme!r}", options, spec.option_names)
    return spec, check_int("frames (both endpoints are frames)", frames, 2), check_budget(budget_s)


def _paths(spec: Scheme, f0: torch.Tensor, f1: torch.Tensor, frames: int, prior: Prior, **controls_and_options):
    """``(paths [B, frames, D], stopping)`` of checked flat endpoints ``[B, D]``, the endpoints pinned to the
    inputs exactly."""
    t = torch.linspace(0.0, 1.0, frames, device=f0.device, dtype=torch.float64)
    path, stopping = spec.run(f0, f1, t, prior, **controls_and_options)
    if path.dtype != f0.dtype:
        path = path.to(f0.dtype)
    path.select(1, 0).copy_(f0)
    path.select(1, -1).copy_(f1)
    return path, stopping


def interpolate(z0, z1, frames: int, *, scheme: str = "lol", prior: Prior | None = None,
                progress: Progress | None = None, budget_s: float | None = None,
                should_stop: Callable[[], bool] | None = None, return_stopping: bool = False, **options):
    """The path from ``z0`` to ``z1`` in ``frames`` frames, endpoints included.

    ``z0, z1``: one latent ``[*shape]`` or a batch ``[B, *shape]`` (a batch needs ``prior`` to tell the latent
    shape; without a prior the inputs are one latent of a standard normal). Returns ``[frames, *shape]`` or
    ``[B, frames, *shape]``, the endpoints equal to the inputs. ``options`` go to the scheme (see
    :attr:`Scheme.option_names`, e.g. NAO's ``max_iter``); an option the scheme does not take is an error.

    Iterative schemes stop early, with the best paths reached, once ``budget_s`` seconds have passed or
    ``should_stop()`` returns True (polled once per iteration). With ``return_stopping``, returns ``(path,
    stopping)``: a :class:`~latentcore.optimise.Stopping` saying how the optimisation ended (``stopping.early``),
    None for closed-form schemes.

    Parameters
    ----------
    z0, z1 : array-like ``[*shape]`` or ``[B, *shape]``
        The endpoints, of the same shape; ``z1`` is moved to ``z0``'s device.
    frames
        The number of frames, both endpoints included; at least 2.
    scheme
        The name of a scheme in :data:`SCHEMES`. Default ``"lol"``.
    prior
        The prior of the latents; it gives the latent shape. Default None: a standard normal over
        the shape of ``z0``, taken as one latent.
    progress
        Called as ``progress(fraction, text)`` by iterative schemes. Default None.
    budget_s
        Seconds an iterative scheme may take (positive and finite). Default None: no limit.
    should_stop
        Polled once per iteration by iterative schemes; True ends them. Default None.
    return_stopping
        Also return how the optimisation ended. Default False.
    **options
        The scheme's own options (:attr:`Scheme.option_names`), e.g. NAO's ``max_iter``; see
        :meth:`Scheme.options` for those the app and the evaluation use.

    Returns
    -------
    path : Tensor ``[frames, *shape]`` or ``[B, frames, *shape]``
        The frames, in the dtype and on the device of ``z0``; the first and the last equal the inputs exactly.
    stopping : Stopping or None
        Only with ``return_stopping``: how the optimisation ended, None for closed-form schemes.

    Raises
    ------
    ValueError
        When the scheme is unknown or takes no option of ``options``, ``frames`` is not an integer of at least 2,
        ``budget_s`` is not a positive number, the endpoints differ in shape or do not fit ``prior``, or they hold
        NaN or Inf.
    TypeError
        When ``prior`` is not a :class:`~latentcore.priors.Prior`.
    """
    spec, frames, budget_s = _checked_run(scheme, frames, budget_s, options)
    f0, f1, batch, prior = _endpoints(z0, z1, prior)
    path, stopping = _paths(spec, f0, f1, frames, prior, progress=progress, budget_s=budget_s,
                            should_stop=should_stop, **options)
    path = path.reshape(*batch, frames, *prior.shape)
    return (path, stopping) if return_stopping else path


def interpolate_chain(seeds, frames: int, *, scheme: str = "lol", prior: Prior | None = None,
                      progress: Progress | None = None, budget_s: float | None = None,
                      should_stop: Callable[[], bool] | None = None, return_stopping: bool = False, **options):
    """A path through seeds ``[K, *shape]`` in order: ``frames`` frames per leg, the shared seeds once.

    Returns ``[(K - 1) (frames - 1) + 1, *shape]`` (with ``return_stopping``, and how it ended, as
    :func:`interpolate`); all legs are computed as one batch.

    Parameters
    ----------
    seeds : array-like ``[K, *shape]``
        At least two latents, in the order the path visits them.
    frames
        Frames per leg, both of its seeds included; at least 2.
    scheme, progress, budget_s, should_stop, return_stopping, **options
        As in :func:`interpolate`.
    prior
        The prior of the seeds. Default None: a standard normal over ``seeds.shape[1:]``.

    Returns
    -------
    chain : Tensor ``[(K - 1) (frames - 1) + 1, *shape]``
        The legs one after the other, each seed once; the seeds are the inputs exactly.
    stopping : Stopping or None
        Only with ``return_stopping``: how the optimisation ended, None for closed-form schemes.

    Raises
    ------
    ValueError
        As :func:`interpolate`, and when ``seeds`` is not a batch of at least two latents.
    TypeError
        When ``prior`` is not a :class:`~latentcore.priors.Prior`.
    """
    spec, frames, budget_s = _checked_run(scheme, frames, budget_s, options)
    seeds = as_tensor(seeds)
    prior = resolve_prior(prior, seeds, batched=True)
    flat, _ = check_latents(seeds, prior, name="seeds of a chain", batch_dims=(1,), min_count=2)
    legs, stopping = _paths(spec, flat[:-1], flat[1:], frames, prior, progress=progress, budget_s=budget_s,
                            should_stop=should_stop, **options)
    chain = torch.cat([legs[:, :-1].reshape(-1, flat.shape[1]), flat[-1:]]).reshape(-1, *prior.shape)
    return (chain, stopping) if return_stopping else chain
