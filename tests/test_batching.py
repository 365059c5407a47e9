"""Decoding shared by many sessions: the decode batcher (ui.server.batching) with the real built-in models, and the
server's cache of decoded images (ui.models), bounded in bytes.

Batched images are compared with unbatched ones within 1e-5 for one-pass decoders and 1e-4 for DDIM (images in
[0, 1]; measured differences are 0 for faces-dcgan, about 3e-7 for digits-vae and 3e-5 for digits-ddim, whose
steps compound them: the order of float sums in a convolution depends on the batch size and the thread count), and
8-bit images within one grey level. Batches are counted with the batcher's own statistics, never timed.
"""

import gc
import threading
import weakref

import numpy as np
import pytest
import torch

import latentcore.models as models
from ui.server import batching, limits, threads
from latentcore.imaging import to_uint8
from latentcore.models.vae import VAEModel
from ui import models as ui_models

TOLERANCE = dict(atol=1e-5, rtol=0)
DDIM_TOLERANCE = dict(atol=1e-4, rtol=0)


def _requests(model, sizes, seed=0):
    return [model.prior.sample(n, seed=seed + i) for i, n in enumerate(sizes)]


@pytest.mark.parametrize("name", ["digits-vae", "faces-dcgan"])
def test_a_joint_batch_gives_each_request_its_unbatched_images(name):
    model = models.load(name)
    sizes = [1, 3, 2, 1, 5]
    requests = _requests(model, sizes)
    requests[2] = requests[2].reshape(2, 1, *model.latent_shape)  # a caller's own batch shape comes back
    requests[3] = requests[3][0]  # one latent, no batch dimension
    batcher = batching.DecodeBatcher(model, max_batch=sum(sizes), max_wait_s=1.0)  # full batch: no waiting
    futures = [batcher.submit(z) for z in requests]
    for z, future in zip(requests, futures):
        images = future.result(timeout=60)
        torch.testing.assert_close(images, model.decode(z), **TOLERANCE)
    assert futures[3].result().shape == model.image_shape
    assert futures[2].result().shape == (2, 1, *model.image_shape)
    assert batcher.stats() == batching.BatchStats(requests=5, batches=1, latents=12, joint=1, largest=5, retries=0)
    batcher.close()


def test_many_threads_get_their_own_rows():
    model = models.load("digits-vae")
    threads = 24
    latents = _requests(model, [2] * threads, seed=100)
    expected = [model.decode(z) for z in latents]
    assert all(not torch.allclose(expected[0], e) for e in expected[1:])  # a mix-up would show
    batcher = batching.DecodeBatcher(model, max_wait_s=0.5)
    start = threading.Barrier(threads)
    got = [None] * threads

    def session(i):
        start.wait()
        got[i] = batcher.decode(latents[i])

    workers = [threading.Thread(target=session, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    for i in range(threads):
        torch.testing.assert_close(got[i], expected[i], **TOLERANCE)
    stats = batcher.stats()
    assert stats.requests == threads and stats.latents == 2 * threads
    assert stats.joint >= 1 and stats.batches < threads and stats.retries == 0
    batcher.close()


def test_requests_with_other_options_are_decoded_apart():
    model = models.load("digits-ddim")
    latents = _requests(model, [1, 2, 1, 1], seed=7)
    steps = [2, 3, 2, 3]
    expected = [model.decode(z, steps=s) for z, s in zip(latents, steps)]
    batcher = batching.DecodeBatcher(model, max_batch=3, max_wait_s=1.0)
    futures = [batcher.submit(z, steps=s) for z, s in zip(latents, steps)]
    for e, future in zip(expected, futures):
        torch.testing.assert_close(future.result(timeout=120), e, **DDIM_TOLERANCE)
    assert batcher.stats() == batching.BatchStats(requests=4, batches=2, latents=5, joint=2, largest=2, retries=0)
    batcher.close()


def test_a_sampling_decoder_decodes_safely_from_two_threads():
    """Jobs decode outside the batcher (a cheap decoder in an optimisation loop) while sessions decode through
    it: two threads decoding digits-ddim at once with other step counts get the images of their own steps (the
    DDIM scheduler's timesteps once were shared state)."""
    model = models.load("digits-ddim")
    z = model.prior.sample(2, seed=8)
    expected = {s: model.decode(z, steps=s) for s in (2, 5)}
    got = {s: [] for s in expected}

    def decode(s):
        for _ in range(4):
            got[s].append(model.decode(z, steps=s))

    workers = [threading.Thread(target=decode, args=(s,)) for s in expected]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    for s, images in got.items():
        assert len(images) == 4 and all(torch.equal(i, expected[s]) for i in images)


class FailsOnLargeLatents(VAEModel):
    """digits-vae whose decoder fails for latents with a first coordinate above 50: a decoder that fails on some
    input only, as a plug-in's network may."""

    def _decode(self, latents):
        if bool((latents[:, 0] > 50).any()):
            raise RuntimeError("this decoder cannot take a latent that large")
        return super()._decode(latents)


def test_a_failing_request_does_not_fail_the_others():
    spec = models.MODELS["digits-vae"]
    model = FailsOnLargeLatents(models.registry.ASSETS / "digits-vae", "digits-vae", spec.description, "digits", "cpu")
    good = _requests(model, [2, 1, 3], seed=20)
    bad = model.prior.sample(2, seed=30)
    bad[1, 0] = 60.0
    batcher = batching.DecodeBatcher(model, max_batch=8, max_wait_s=1.0)
    futures = [batcher.submit(good[0]), batcher.submit(bad), batcher.submit(good[1]), batcher.submit(good[2])]
    with pytest.raises(RuntimeError, match="cannot take a latent that large"):
        futures[1].result(timeout=60)
    for z, future in zip(good, futures[:1] + futures[2:]):
        torch.testing.assert_close(future.result(timeout=60), model.decode(z), **TOLERANCE)
    stats = batcher.stats()
    assert (stats.requests, stats.batches, stats.joint, stats.retries) == (4, 1, 1, 1)
    # what can be checked before decoding fails at once, in its caller's thread, and never joins a batch
    with pytest.raises(ValueError, match="trailing dimensions"):
        batcher.submit(torch.zeros(2, 15))
    with pytest.raises(ValueError, match="takes no sampler steps"):
        batcher.submit(good[0], steps=10)
    with pytest.raises(ValueError, match="finite"):
        batcher.submit(torch.full((1, 16), float("nan")))
    assert batcher.stats() == stats
    batcher.close()


class CountsThreads(VAEModel):
    """digits-vae that notes torch's thread count each time it decodes."""

    def _decode(self, latents):
        self.seen.append(torch.get_num_threads())
        return super()._decode(latents)


def test_the_worker_decodes_with_its_own_thread_count():
    spec = models.MODELS["digits-vae"]
    model = CountsThreads(models.registry.ASSETS / "digits-vae", "digits-vae", spec.description, "digits", "cpu")
    model.seen = []
    torch.set_num_threads(2)
    batcher = batching.DecodeBatcher(model)
    assert batcher.threads == threads.DECODE_THREADS == 1  # 2 cores: the other one is the jobs'
    batcher.decode(model.prior.sample(2, seed=1))
    seen_elsewhere = []
    later = threading.Thread(target=lambda: seen_elsewhere.append(torch.get_num_threads()))
    later.start()
    later.join()
    assert model.seen == [1] and torch.get_num_threads() == 2 and seen_elsewhere == [2]
    batcher.close()


def test_a_thread_started_with_its_own_count_leaves_everyone_else_theirs(monkeypatch):
    torch.set_num_threads(2)
    seen = []
    threads.start_thread(lambda: seen.append(torch.get_num_threads()), "three", 3).join()
    later = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
    later.start()
    later.join()
    assert seen == [3, 2] and torch.get_num_threads() == 2
    monkeypatch.setenv("LATENT_EXPLORER_JOB_THREADS", "two")
    with pytest.raises(ValueError, match="LATENT_EXPLORER_JOB_THREADS must be a whole number of threads.*'two'"):
        threads._setting("LATENT_EXPLORER_JOB_THREADS", 1)
    monkeypatch.setenv("LATENT_EXPLORER_JOB_THREADS", "4")
    assert threads._setting("LATENT_EXPLORER_JOB_THREADS", 1) == 4


def test_closing_decodes_what_is_queued_then_refuses():
    model = models.load("digits-vae")
    latents = _requests(model, [1, 2, 1], seed=40)
    batcher = batching.DecodeBatcher(model, max_batch=1000, max_wait_s=1.0)
    futures = [batcher.submit(z) for z in latents]
    batcher.close(timeout=60)
    for z, future in zip(latents, futures):
        assert future.done()
        torch.testing.assert_close(future.result(), model.decode(z), **TOLERANCE)
    assert batcher.closed and not batcher._worker.is_alive()
    with pytest.raises(RuntimeError, match="closed"):
        batcher.submit(latents[0])


def test_one_batcher_per_model_which_ends_with_its_model():
    assert batching.batcher(models.load("digits-vae")) is batching.batcher(models.load("digits-vae"))
    assert batching.batcher(models.load("digits-vae")) is not batching.batcher(models.load("faces-dcgan"))
    model = models.MODELS["faces-dcgan"].build(torch.device("cpu"))  # not the registry's cached instance
    z = model.prior.sample(2, seed=5)
    torch.testing.assert_close(batching.decode(model, z), model.decode(z), **TOLERANCE)
    shared = batching.batcher(model)
    worker, gone = shared._worker, weakref.ref(shared)
    assert worker.is_alive() and worker.daemon
    del model, shared
    gc.collect()
    worker.join(10)
    assert not worker.is_alive() and gone() is None


# --- the cache of decoded images ------------------------------------------------------------------------------

def test_the_decoded_cache_is_bounded_in_bytes_and_drops_the_least_recently_used(monkeypatch):
    monkeypatch.setattr(limits, "MAX_DECODED_CACHE_BYTES", 3000)
    cache = ui_models.DecodedImages()
    for key in "abc":
        cache.put(key, np.full(1000, ord(key), np.uint8))
    assert cache.get("a")[0] == ord("a")  # a is now the most recently used
    cache.put("d", np.zeros(1000, np.uint8))
    assert cache.keys() == ["c", "a", "d"] and cache.nbytes == 3000 and cache.get("b") is None
    cache.put("e", np.zeros(1500, np.uint8))  # takes the room of two entries
    assert cache.keys() == ["d", "e"] and cache.nbytes == 2500
    kept = cache.put("huge", np.zeros(3001, np.uint8))  # over the bound alone: returned, not kept
    assert kept.nbytes == 3001 and cache.keys() == ["d", "e"] and cache.nbytes == 2500


def test_cached_images_are_read_only_copies():
    cache = ui_models.DecodedImages()
    source = np.arange(12, dtype=np.uint8).reshape(3, 4)
    kept = cache.put("k", source)
    source[0, 0] = 99  # the caller's own array stays its own
    assert cache.get("k")[0, 0] == 0
    with pytest.raises(ValueError):
        kept[0, 0] = 1
    with pytest.raises(ValueError):
        kept.flags.writeable = True
    assert cache.get("k") is kept


def test_decode_to_uint8_is_shared_and_right_for_every_thread(monkeypatch):
    ui_models.DECODED.clear()
    model = models.load("digits-vae")
    latents = [model.prior.sample(3, seed=60 + i) for i in range(12)]
    expected = [to_uint8(model.decode(z)) for z in latents]
    got = [None] * len(latents)
    start = threading.Barrier(len(latents))

    def session(i):
        start.wait()
        got[i] = ui_models.decode_to_uint8(model, latents[i], model.decoding())

    workers = [threading.Thread(target=session, args=(i,)) for i in range(len(latents))]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    for g, e in zip(got, expected):
        assert np.abs(g.astype(int) - e).max() <= 1  # the worker's thread count may round a pixel the other way
        assert not g.flags.writeable
    assert ui_models.decode_to_uint8(model, latents[0].clone(), model.decoding()) is got[0]  # a hit: the same entry
    assert ui_models.DECODED.nbytes == sum(e.nbytes for e in expected)
    ddim = models.load("digits-ddim")
    z = ddim.prior.sample(1, seed=0)
    two, three = (ui_models.decode_to_uint8(ddim, z, ddim.decoding(steps=s)) for s in (2, 3))
    assert np.abs(three.astype(int) - to_uint8(ddim.decode(z, steps=3))).max() <= 1
    assert not np.array_equal(two, three)  # the options are part of the key
    monkeypatch.setattr(limits, "MAX_DECODED_CACHE_BYTES", 2 * expected[0].nbytes)
    for z in latents:
        ui_models.decode_to_uint8(model, -z, model.decoding())  # new entries: the bound applies as they are kept
    assert ui_models.DECODED.nbytes <= 2 * expected[0].nbytes and len(ui_models.DECODED.keys()) == 2
    ui_models.DECODED.clear()


def test_an_uploaded_latent_reaches_pixels_checked_once(monkeypatch):
    """The file's reader checks the latent's values and shape; the seed set, the shared cache, the batcher and
    the model's decode do not check them again (spied on in every thread), and no numpy array is made on the way
    from the seed set to the decoder."""
    import io

    import latentcore as lc
    import latentcore.latent_files
    import latentcore.models.base
    from ui.server.seed_set import SeedSet

    model = models.load("digits-vae")
    ui_models.DECODED.clear()
    buffer = io.BytesIO()
    np.save(buffer, model.prior.sample(1, seed=81).numpy())
    finite, shaped, arrays = [], [], []
    real_count, real_check = latentcore.latent_files.count_nonfinite, batching.check_latents
    monkeypatch.setattr(latentcore.latent_files, "count_nonfinite", lambda x: finite.append(1) or real_count(x))
    for module in (batching, latentcore.models.base):
        monkeypatch.setattr(module, "check_latents", lambda *a, **k: shaped.append(1) or real_check(*a, **k))
    monkeypatch.setattr(torch, "from_numpy", lambda a, real=torch.from_numpy: arrays.append(1) or real(a))
    uploaded = lc.read_latent_file(buffer.getvalue(), name="mine.npy", shape=model.latent_shape)
    assert finite == [1] and arrays == [1]  # the file's array, once
    seeds = SeedSet()
    seeds.add(uploaded.latents, ["mine"])
    images = ui_models.decode_to_uint8(model, seeds.latents, model.decoding())
    assert finite == [1] and shaped == [] and arrays == [1]
    assert np.array_equal(images, to_uint8(model.decode(uploaded.latents)))
    ui_models.DECODED.clear()
