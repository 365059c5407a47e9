"""A stop request ends work in every phase, not only between optimiser iterations: a decode or an encode through a
sampler, each start of a ri-optimal path, its checks and its final measure, the typical-error reference, the
loading of an image, the cost probes, and a job whose session is gone. Each test runs the real work on digits-ddim,
requests the stop in one phase and counts the UNet calls (one per sampler step of a chunk) that ran after it: none
may, since every phase polls before each step. No test looks at a clock."""

import io
from collections import OrderedDict
from types import SimpleNamespace

import pytest
import torch
from PIL import Image

import latentcore as lc
import latentcore.models as models
from latentcore import reach
from latentcore.imaging import to_uint8
from ui import inversion, jobs
from ui import models as ui_models

FRAMES = 3  # a path of one interior frame: a sampler decode of a path is three latents
STEPS = 10  # sampler steps of every decode here (the fewest digits-ddim offers), so that each test takes seconds


def _decoding(model):
    return model.decoding(steps=STEPS)


@pytest.fixture(scope="module")
def ddim():
    return models.load("digits-ddim", device="cpu")


class Steps:
    """Counts the UNet calls of a sampler model, those without gradients (``measures``: decodes that measure) apart
    from the loop's, and requests a stop the first time ``when(self)`` says so after a call (or on
    :meth:`request`), calling ``then()`` (e.g. to end a session); ``after``: the calls that ran once it was
    requested."""

    def __init__(self, model, when=lambda steps: False, then=lambda: None):
        self.calls = self.measures = 0
        self.requested = None
        self.when, self.then = when, then
        self.handle = model.unet.register_forward_hook(self._hook)

    def _hook(self, module, args, output):
        self.calls += 1
        self.measures += not torch.is_grad_enabled()
        if self.requested is None and self.when(self):
            self.request()

    def request(self) -> None:
        if self.requested is None:
            self.requested = self.calls
            self.then()

    def should_stop(self) -> bool:
        return self.requested is not None

    @property
    def after(self) -> int:
        assert self.requested is not None, "the stop was never requested: the phase was not reached"
        return self.calls - self.requested


@pytest.fixture
def steps(ddim):
    made = []

    def make(when=lambda steps: False, then=lambda: None):
        made.append(Steps(ddim, when, then))
        return made[-1]

    yield make
    for counter in made:
        counter.handle.remove()


def _path(model, steps, **options):
    """A ri-optimal path between two prior samples through ``model``, as the interpolation page asks for it."""
    settings = {**lc.SCHEMES["ri-optimal"].options(model, context="interactive", decoding=_decoding(model)),
                **options}
    ends = model.prior.sample(2, seed=3)
    return lc.interpolate(ends[0], ends[1], FRAMES, scheme="ri-optimal", prior=model.prior, return_stopping=True,
                          should_stop=steps.should_stop, **settings)


@pytest.mark.parametrize("what", ["decode", "encode"])
def test_a_sampler_stops_between_its_steps(ddim, steps, what):
    counter = steps(lambda s: s.calls == 3)
    latents = ddim.prior.sample(2, seed=0)
    with pytest.raises(lc.Stopped):
        if what == "decode":
            ddim.decode(latents, _decoding(ddim), should_stop=counter.should_stop)
        else:
            ddim.encode(torch.rand(2, *ddim.image_shape), _decoding(ddim), should_stop=counter.should_stop)
    assert counter.after == 0 and counter.calls == 3 < STEPS


def test_a_stop_requested_before_a_decode_runs_no_step(ddim, steps):
    counter = steps()
    counter.request()
    with pytest.raises(lc.Stopped):
        ddim.decoder(should_stop=counter.should_stop)(ddim.prior.sample(1, seed=0))
    assert counter.calls == 0


def test_a_path_stopped_before_its_first_start_is_measured_raises(ddim, steps):
    counter = steps(lambda s: s.calls == 2)  # within the first candidate's decode
    with pytest.raises(lc.Stopped):
        _path(ddim, counter)
    assert counter.after == 0


def test_a_path_stopped_between_its_starts_keeps_those_measured(ddim, steps):
    counter = steps(lambda s: s.calls == STEPS + 2)  # the second candidate's decode
    path, stopping = _path(ddim, counter)
    assert counter.after == 0 and counter.measures == counter.calls  # no iteration ran
    assert stopping.reason == "stop" and stopping.iterations == 0 and len(path) == FRAMES


def test_a_path_stopped_in_its_loop_ends_without_a_full_decode(ddim, steps):
    counter = steps(lambda s: s.calls > s.measures + 12)  # within the loop's second forward pass
    path, stopping = _path(ddim, counter)
    assert counter.after == 0 and stopping.reason == "stop" and stopping.iterations >= 1


def test_a_path_stopped_while_checked_with_the_full_decoder_ends(ddim, steps):
    starts = 3 * STEPS  # the three closed-form candidates
    counter = steps(lambda s: s.calls > s.measures and s.measures == starts + 2)  # within the first check
    path, stopping = _path(ddim, counter, check_every=2)
    assert counter.after == 0 and stopping.reason == "stop"


def test_a_path_stopped_in_its_final_measure_returns_the_best_measured(ddim, steps):
    ends = []
    counter = steps(lambda s: bool(ends) and s.measures == ends[0] + 2)  # within the measure after the loop

    def progress(fraction, text):
        if fraction == 1.0 and "iteration limit" in text:
            ends.append(counter.measures)

    settings = {**lc.SCHEMES["ri-optimal"].options(ddim, context="interactive", decoding=_decoding(ddim)),
                "max_iter": 2, "check_every": 100}
    z = ddim.prior.sample(2, seed=3).flatten(1)
    result = lc.ri_optimal_interpolate(z[:1], z[1:], torch.linspace(0, 1, FRAMES, dtype=torch.float64), ddim.prior,
                                       should_stop=counter.should_stop, progress=progress, **settings)
    assert counter.after == 0 and result.stopping.reason == "stop" and result.stopping.iterations == 2
    assert torch.isfinite(result.energy).all() and float(result.stopping.loss) == float(result.energy[0])


@pytest.mark.parametrize("phase", [0, 1, 2])  # the reference's decode, its DDIM inversion, its decode again
def test_the_typical_error_reference_stops_in_each_phase(ddim, steps, monkeypatch, phase):
    monkeypatch.setattr(reach, "_CACHE", OrderedDict())  # measured here, not found from another test
    counter = steps(lambda s: s.calls == phase * STEPS + 2)
    with pytest.raises(lc.Stopped):
        lc.typical_error(ddim, samples=4, decoding=_decoding(ddim), should_stop=counter.should_stop)
    assert counter.after == 0
    assert not reach._CACHE  # a reference cut short is never kept


@pytest.fixture(scope="module")
def png(ddim) -> bytes:
    """One of digits-ddim's own images as an uploaded PNG file."""
    image = to_uint8(ddim.decode(ddim.prior.sample(1, seed=1), _decoding(ddim)))[0]
    out = io.BytesIO()
    Image.fromarray(image.squeeze(-1) if image.shape[-1] == 1 else image).save(out, format="PNG")
    return out.getvalue()


@pytest.mark.parametrize("phase", ["loading", "reference", "inversion"])
def test_inverting_an_uploaded_image_stops_in_each_phase(ddim, png, steps, monkeypatch, phase):
    monkeypatch.setattr(reach, "_CACHE", OrderedDict())
    reference = 3 * STEPS  # decode, invert, decode again
    at = {"loading": 0, "reference": STEPS + 2, "inversion": reference + 2}[phase]
    counter = steps(lambda s: s.calls == at)
    if phase == "loading":
        counter.request()
    with pytest.raises(lc.Stopped):
        inversion._invert_one(ddim, png, "digit.png", _decoding(ddim), budget_s=60.0,
                              should_stop=counter.should_stop)
    assert counter.after == 0


@pytest.mark.parametrize("phase", ["start", "loop"])
def test_a_cost_probe_stops_and_is_not_cached(ddim, steps, phase):
    counter = steps((lambda s: s.calls == 2) if phase == "start" else (lambda s: s.calls > s.measures))
    decoding = _decoding(ddim)
    args = (ddim, ddim.key, f"stopping-{phase}", "ri-optimal", decoding.steps, decoding, {})
    with pytest.raises(lc.Stopped):
        ui_models._path_cost(*args, counter.should_stop)
    assert counter.after == 0
    with pytest.raises(lc.Stopped):  # measured again, not found in the cache
        ui_models._path_cost(*args, lambda: True)


class _GoneSession(jobs.SessionJobs):
    """A session's jobs whose session ends when ``gone`` is set (Streamlit's runtime drops it when its tab
    closes)."""

    def __init__(self):
        super().__init__("stopping-test")
        self.gone = False

    def alive(self) -> bool:
        return not self.gone


def _ended(session: jobs.SessionJobs, key: tuple, work) -> jobs.Job:
    job = session.request(key, "test", "work", work, 60.0)
    worker = session.worker
    worker.join(120)
    assert not worker.is_alive()
    return job


@pytest.mark.parametrize("phase", ["first start", "second start", "loop", "final"])
def test_a_path_job_stops_when_its_session_ends_in_each_phase(ddim, steps, phase):
    session = _GoneSession()
    ended_loop = []

    def closes(s) -> bool:  # the tab closes in this phase
        if phase.endswith("start"):
            return s.calls == (STEPS if phase == "second start" else 0) + 2
        if phase == "loop":
            return s.calls > s.measures + 1
        return bool(ended_loop) and s.measures == ended_loop[0] + 2

    counter = steps(closes, then=lambda: setattr(session, "gone", True))

    def work(progress, budget_s, should_stop):
        def seen(fraction, text):
            if fraction == 1.0 and "iteration limit" in text:
                ended_loop.append(counter.measures)
            progress(fraction, text)

        settings = {**lc.SCHEMES["ri-optimal"].options(ddim, context="interactive", decoding=_decoding(ddim)),
                    "max_iter": 2 if phase == "final" else 300, "check_every": 100}
        return lc.interpolate_chain(ddim.prior.sample(2, seed=3), FRAMES, scheme="ri-optimal", prior=ddim.prior,
                                    progress=seen, budget_s=budget_s, should_stop=should_stop, return_stopping=True,
                                    **settings)  # as the interpolation page asks for it (ui.models.path_through)

    job = _ended(session, ("path", phase), work)
    assert job.error is None, job.error
    assert counter.after == 0
    if phase == "first start":  # nothing measured yet: no path to return
        assert job.state == "cancelled" and job.result is None
        shown = []
        jobs.result(job, where=SimpleNamespace(caption=shown.append), offer_again=False)
        assert shown == ["work: stopped before it had a result."]
    else:
        assert job.state == "done" and job.result[1].reason == "stop"


def test_an_inversion_job_stops_when_its_session_ends_in_its_reference(ddim, png, steps, monkeypatch):
    monkeypatch.setattr(reach, "_CACHE", OrderedDict())
    session = _GoneSession()
    counter = steps(lambda s: s.calls == 2, then=lambda: setattr(session, "gone", True))
    job = _ended(session, ("invert-one",), lambda **controls: inversion._invert_one(
        ddim, png, "digit.png", _decoding(ddim), **controls))
    assert counter.after == 0 and job.state == "cancelled" and job.error is None


def test_a_comparison_stopped_before_a_scheme_had_a_result_keeps_the_others(ddim, steps):
    from latentcore.evaluate import LEFT_OUT, evaluate

    reached = []
    counter = steps(lambda s: bool(reached))  # the first sampler step once ri-optimal's stage has begun

    def progress(fraction, text):
        if "ri-optimal" in text:
            reached.append(text)

    result = evaluate(ddim, schemes=["linear", "ri-optimal"], centroid_schemes=[], pairs=2, frames=FRAMES,
                      steps=STEPS, should_stop=counter.should_stop, progress=progress)
    assert counter.after == 0
    assert list(result.table["scheme"]) == ["linear"]
    assert result.settings["stopped_early"] == {f"interpolation: {lc.SCHEMES['ri-optimal'].label}": LEFT_OUT}
    counter = steps(lambda s: True)  # no scheme had a result: nothing to show
    with pytest.raises(lc.Stopped):
        evaluate(ddim, schemes=["ri-optimal"], centroid_schemes=[], pairs=2, frames=FRAMES, steps=STEPS,
                 should_stop=counter.should_stop)


def test_a_stopping_says_how_it_ended_and_its_loss_only_where_asked():
    from latentcore.optimise import Stopping

    stopping = Stopping("budget", 12, 3.14, 32.891)
    assert stopping.describe() == ("stopped early: time budget spent after 12 iterations (3.1 s), loss 32.89; the "
                                   "best result so far")
    assert stopping.describe(loss=False) == ("stopped early: time budget spent after 12 iterations (3.1 s); the best "
                                             "result so far")  # what a page shows; the loss is in its help
