"""advnets demo served on 127.0.0.1 (a free port) with small runs trained here: every
endpoint through the Python client (bad uploads included), then the page in a real headless
browser (Playwright driving the system's chromium; nothing is downloaded). The browser tests
save screenshots to a temporary folder, or to $ADVNETS_SCREENSHOTS (e.g. docs/demo); with
$ADVNETS_SCREENSHOT_RUNS, a folder holding runs named gan, ssl and vaegan, those are served
instead of runs trained here (docs/demo.md says how its pictures were made)."""

import io
import os
import re
import shutil
import socket
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from demo_runs import snapshot, train_runs
from PIL import Image

from advnets.cli import main
from advnets.data import load_images01

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

from advnets.demo import handlers as h  # noqa: E402
from advnets.demo.restore import SHIPPED, classical_names, restore  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")  # its pandas calls
CHROMIUM = Path("/usr/bin/chromium")
BROWSER_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory, data_root):
    """(url, the Demo it serves, the run folders, their files before serving)."""
    from advnets.demo import serve

    root = tmp_path_factory.mktemp("demo-served")
    given = os.environ.get("ADVNETS_SCREENSHOT_RUNS")  # longer-trained runs for docs' pictures
    names = ("gan", "ssl", "vaegan")
    folders = {n: Path(given) / n for n in names} if given else train_runs(root, data_root, names)
    before = {name: snapshot(folder) for name, folder in folders.items()}
    port = free_port()
    app, demo = serve([*folders.values(), root / "missing"], "127.0.0.1", port, block=False)
    yield f"http://127.0.0.1:{port}", demo, folders, before
    app.close()


@pytest.fixture(scope="module")
def client(served, tmp_path_factory):
    return Client(served[0], verbose=False, download_files=str(tmp_path_factory.mktemp("dl")))


@pytest.fixture(scope="module")
def files(tmp_path_factory, data_root):
    """Uploads: an MNIST digit, a colour photo (CIFAR-10 test images), and the bad ones."""
    folder = tmp_path_factory.mktemp("demo-files")
    x = load_images01("mnist", "test", str(data_root), 1)[0]
    Image.fromarray((x[0, 0] * 255).round().byte().numpy()).save(folder / "digit.png")
    tiles = load_images01("cifar10", "test", str(data_root), 6)[0]  # 2 x 3 of them: 64 x 96
    photo = torch.cat([torch.cat(list(tiles[3 * r : 3 * r + 3]), dim=2) for r in (0, 1)], dim=1)
    Image.fromarray((photo.permute(1, 2, 0) * 255).round().byte().numpy()).save(
        folder / "photo.png"
    )
    (folder / "notes.txt").write_text("not a picture")
    (folder / "notes.png").write_text("not a picture either")
    (folder / "empty.png").write_bytes(b"")
    (folder / "huge.png").write_bytes(b"\x89PNG" + bytes(9 * 2**20))  # over the 8 MiB limit
    return {p.stem if p.suffix == ".png" else p.name: str(p) for p in folder.iterdir()}


def pixels(path: str, grey: bool = False) -> np.ndarray:
    """A picture's pixels (grey pictures may come back as RGB: `grey` reads them as L)."""
    with Image.open(path) as img:
        return np.asarray(img.convert("L") if grey else img)


def test_the_client_generates_the_runs_samples(served, client):
    demo = served[1]
    grid, downloads = client.predict("gan", 3, 16, 1.0, "", 1.0, api_name="/generate")
    expected, _, _ = h.generate(demo.run("gan"), 3, 16, 1.0, "", demo.outbox)
    np.testing.assert_array_equal(pixels(grid), expected)
    npy = next(p for p in downloads if p.endswith(".npy"))
    assert np.load(npy).shape == (16, 1, 28, 28)


def test_the_client_walks_and_does_arithmetic(served, client):
    demo = served[1]
    run = demo.run("gan")
    strip, gif = client.predict("gan", 0, 3, 2, 5, "slerp", 6, api_name="/walk")
    np.testing.assert_array_equal(
        pixels(strip), h.walk(run, (0, 3, 2, 5), "slerp", 6, demo.outbox)[0]
    )
    assert gif.endswith(".gif")
    grid = client.predict("gan", 4, api_name="/walk_grid")
    np.testing.assert_array_equal(pixels(grid, True), h.pick_grid(run, 4))
    grid = client.predict("gan", 4, api_name="/arithmetic_grid")
    np.testing.assert_array_equal(pixels(grid, True), h.pick_grid(run, 4, h.ARITHMETIC_GRID))
    figure = client.predict("gan", 0, "1 2", "3", "4", api_name="/arithmetic")
    np.testing.assert_array_equal(pixels(figure, True), h.arithmetic(run, 0, "1 2", "3", "4"))


def test_the_client_classifies_reconstructs_and_watches(served, client, files):
    demo = served[1]
    result, _ = client.predict(
        "ssl", handle_file(files["digit"]), None, False, api_name="/classify"
    )
    probs, _ = h.classify(demo.run("ssl"), files["digit"], None)
    got = {c["label"]: c["confidence"] for c in result["confidences"]}
    assert got == pytest.approx(probs, rel=1e-9, abs=1e-12)
    assert result["label"] == max(probs, key=probs.get)
    _, score = client.predict("vaegan", handle_file(files["digit"]), False, api_name="/reconstruct")
    assert score == pytest.approx(h.reconstruct(demo.run("vaegan"), files["digit"])[1], rel=1e-6)
    samples, curves, line = client.predict("gan", api_name="/watch")
    assert re.match(r"gan: step \d+, epoch ", line) and curves.endswith(".png") and samples


def test_the_client_restores_an_upload(served, client, files):
    demo = served[1]
    methods = classical_names("sr2")
    gallery, table = client.predict(
        "sr2", handle_file(files["photo"]), True, None, None, SHIPPED, methods, api_name="/restore"
    )
    assert [g["caption"] for g in gallery] == [
        "corrupted input",
        SHIPPED,
        *methods,
        "clean original",
    ]
    assert pixels(gallery[0]["image"]).shape == (32, 48, 3)
    inputs = (files["photo"], True, None, None)
    _, rows = restore("sr2", inputs, SHIPPED, methods, demo.runs, demo.shipped)
    assert [r[:3] for r in table["data"]] == [r[:3] for r in rows]


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        ("notes.txt", "Invalid file type"),
        ("notes", "notes.png: not a readable picture"),
        ("empty", "the picture: the uploaded file is empty"),
        ("huge", "exceeds the maximum file size of 8388608 bytes"),  # the client's own check
    ],
)
def test_bad_uploads_are_one_line_errors(client, files, upload, message):
    with pytest.raises((AppError, ValueError), match=message) as err:
        client.predict("ssl", handle_file(files[upload]), None, False, api_name="/classify")
    if err.type is AppError:  # from the server: one line, no server path
        assert "Traceback" not in str(err.value) and "/tmp" not in str(err.value)


def test_the_server_refuses_an_upload_over_the_limit(served, files):
    import httpx

    with open(files["huge"], "rb") as f:
        response = httpx.post(f"{served[0]}/gradio_api/upload", files={"files": f})
    assert response.status_code == 413, response.text[:200]


def test_bad_fields_and_runs_are_one_line_errors(client, files):
    with pytest.raises(AppError, match="Value 0 is less than minimum value 1"):
        client.predict("gan", 0, 0, 1.0, "", api_name="/generate")
    with pytest.raises(AppError, match="A: there is no sample 99; the grid's are numbered 0 to 35"):
        client.predict("gan", 0, "99", "1", "2", api_name="/arithmetic")
    with pytest.raises(AppError, match="Value: elsewhere is not in the list of choices"):
        client.predict("elsewhere", 0, 0, 1, 0, "slerp", 5, api_name="/walk")
    with pytest.raises(AppError, match="upload the photo first"):
        client.predict("denoise", None, True, None, None, SHIPPED, [], api_name="/restore")


def test_the_run_folders_are_out_of_reach_and_untouched(served, client):
    import httpx

    url, _, folders, before = served
    for target in (folders["gan"] / "checkpoint.pt", Path("/etc/passwd"), "pyproject.toml"):
        response = httpx.get(f"{url}/gradio_api/file={target}")
        assert response.status_code in (403, 404), target
        assert b"root:" not in response.content
    assert {name: snapshot(folder) for name, folder in folders.items()} == before


def test_the_command_names_each_bad_folder_and_stops_when_none_loads(tmp_path, capsys):
    assert main(["demo", str(tmp_path / "a"), str(tmp_path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"advnets demo: {tmp_path / 'a'}: skipped: {tmp_path / 'a'}: not a folder; give the run "
        f"folders written by advnets train",
        f"advnets demo: {tmp_path}: skipped: {tmp_path}: holds no run (no checkpoint.pt or "
        f"metrics.jsonl)",
        "advnets: error: none of the run folders could be loaded; see the lines above",
    ]
    assert main(["demo", str(tmp_path), "--port", "70000"]) == 2
    assert "--port must be between 1 and 65535" in capsys.readouterr().err


# --- the page in a real browser ---------------------------------------------------------------


@pytest.fixture(scope="module")
def page(served):
    """A headless chromium page on the demo, and every request it made off this machine."""
    if not CHROMIUM.is_file():
        pytest.skip(
            f"the browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)"
        )
    sync_api = pytest.importorskip("playwright.sync_api")
    profile = tempfile.mkdtemp(prefix="advnets-chromium-")
    with sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            args=BROWSER_ARGS,
            headless=True,
            viewport={"width": 1280, "height": 900},
        )
        outside: list[str] = []
        context.on("request", lambda r: outside.append(r.url) if not _local(r.url) else None)
        tab = context.new_page()
        tab.set_default_timeout(60_000)
        tab.goto(served[0])
        tab.locator("#header").wait_for()
        yield tab, outside
        context.close()
    shutil.rmtree(profile, ignore_errors=True)


def _local(url: str) -> bool:
    return url.startswith(("http://127.0.0.1", "data:", "blob:", "about:"))


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = os.environ.get("ADVNETS_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _picture_in(tab, selector: str) -> np.ndarray:
    img = tab.locator(f"{selector} img").first
    img.wait_for()
    png = Image.open(io.BytesIO(tab.request.get(img.get_attribute("src")).body()))
    return np.asarray(png.convert("L"))  # the MNIST runs' grey pictures


def test_the_browser_opens_the_page_and_generates(served, page, shots):
    tab, outside = page
    assert "Runs: gan, ssl, vaegan (1 folder(s) skipped" in tab.locator("#header").inner_text()
    tab.locator("#generate-button").click()
    expected, _, _ = h.generate(served[1].run("gan"), 0, 64, 1.0, "", served[1].outbox)
    np.testing.assert_array_equal(_picture_in(tab, "#generate-grid"), expected)
    tab.locator("#generate-files").get_by_text(".npy", exact=True).wait_for()
    tab.screenshot(path=str(shots / "generate.png"), full_page=True)
    from playwright.sync_api import expect

    psi = tab.locator("#generate-psi input[type=number]")  # the truncation trick's slider
    psi.fill("0.5")
    psi.press("Enter")
    shown = tab.locator("#generate-grid img").first
    before = shown.get_attribute("src")
    tab.locator("#generate-button").click()
    expect(shown).not_to_have_attribute("src", before)  # the new grid has arrived
    truncated, _, _ = h.generate(served[1].run("gan"), 0, 64, 1.0, "", served[1].outbox, 0.5)
    assert not np.array_equal(truncated, expected)
    np.testing.assert_array_equal(_picture_in(tab, "#generate-grid"), truncated)
    assert outside == []


def test_the_browser_walks(served, page, shots):
    tab, _ = page
    from playwright.sync_api import expect

    tab.get_by_role("tab", name="Walk").click()
    tab.locator("#walk-show").click()
    run = served[1].run("gan")
    grid = _picture_in(tab, "#walk-grid")
    np.testing.assert_array_equal(grid, h.pick_grid(run, 0))
    img = tab.locator("#walk-grid img").first
    box = img.bounding_box()
    x, y = 2 + 58 + 28, 2 + 70 + 28  # the middle of sample 5 (row 1, column 1)
    img.click(
        position={"x": x * box["width"] / grid.shape[1], "y": y * box["height"] / grid.shape[0]}
    )
    expect(tab.locator("#walk-index-a input")).to_have_value("5")
    tab.locator("#walk-button").click()
    expected = h.walk(run, (0, 5, 1, 0), "slerp", 10, served[1].outbox)[0]
    np.testing.assert_array_equal(_picture_in(tab, "#walk-strip"), expected)
    tab.screenshot(path=str(shots / "walk.png"), full_page=True)


def test_the_browser_restores_an_uploaded_photo(served, page, files, shots):
    tab, _ = page
    tab.get_by_role("tab", name="Restore").click()
    tab.locator("#restore-photo input[type=file]").set_input_files(files["photo"])
    tab.locator("#restore-button").click()
    table = tab.locator("#restore-table")
    table.get_by_text("nlm").first.wait_for()
    inputs = (files["photo"], True, None, None)
    _, rows = restore(
        "denoise", inputs, SHIPPED, classical_names("denoise"), served[1].runs, served[1].shipped
    )
    text = table.inner_text()
    for name, psnr_db, ssim, _ in rows:
        assert name in text and f"{psnr_db:g}" in text and f"{ssim:g}" in text
    assert tab.locator("#restore-gallery img").count() == 2 + len(rows)
    tab.screenshot(path=str(shots / "restore.png"), full_page=True)


def test_the_browser_classifies_an_upload_and_shows_bad_ones_as_errors(served, page, files, shots):
    tab, outside = page
    tab.get_by_role("tab", name="Classify").click()
    tab.locator("#classify-upload input[type=file]").set_input_files(files["digit"])
    tab.locator("#classify-button").click()
    probs, _ = h.classify(served[1].run("ssl"), files["digit"], None)
    best = max(probs, key=probs.get)
    probs_box = tab.locator("#classify-probs")
    probs_box.get_by_text(f"{round(100 * probs[best])}%").first.wait_for()
    assert probs_box.locator("h2, .output-class").first.inner_text().strip() == best
    tab.screenshot(path=str(shots / "classify.png"), full_page=True)
    tab.locator("#classify-upload button[aria-label='Clear']").first.click()
    tab.locator("#classify-upload input[type=file]").set_input_files(files["notes"])
    tab.locator("#classify-button").click()
    tab.get_by_text("notes.png: not a readable picture").first.wait_for()
    assert outside == []


def test_the_browser_classifies_a_drawing(page):
    from playwright.sync_api import expect

    tab, outside = page
    tab.get_by_role("tab", name="Classify").click()
    shown = tab.locator("#classify-seen img").first
    before = shown.get_attribute("src") if shown.count() else ""
    tab.locator("#classify-upload button[aria-label='Clear']").first.click()
    pad = tab.locator("#classify-drawing")
    pad.get_by_role("button", name="Brush").first.click()
    box = pad.locator("canvas").first.bounding_box()
    middle = box["x"] + box["width"] / 2
    tab.mouse.move(middle, box["y"] + 0.25 * box["height"])
    tab.mouse.down()
    for k in range(1, 11):  # a vertical stroke down the middle: a "1"
        tab.mouse.move(middle, box["y"] + (0.25 + 0.05 * k) * box["height"])
    tab.mouse.up()
    tab.locator("#classify-button").click()
    expect(shown).not_to_have_attribute("src", before or "none")  # the new answer
    seen = _picture_in(tab, "#classify-seen")[2:-2, 2:-2][::2, ::2]  # the 28 x 28 input
    assert seen.shape == (28, 28)
    assert seen[8:20, 12:16].mean() > 150 and seen[:, :8].max() == 0 and seen[:, 20:].max() == 0
    assert outside == []
