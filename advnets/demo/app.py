"""The demo page in Gradio: one tab per thing the loaded runs can do, each wired to a plain
handler (advnets.demo.handlers, .restore, .watch). Offline (system fonts, no analytics, no
share link); the page names runs, never paths."""

from __future__ import annotations

import functools
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import gradio as gr  # noqa: E402
import torch  # noqa: E402

from advnets.demo import handlers as h  # noqa: E402
from advnets.demo.restore import SHIPPED, Shipped, classical_names, restore, restorer_names  # noqa: E402
from advnets.demo.runs import DemoRun  # noqa: E402
from advnets.demo.uploads import MAX_UPLOAD_BYTES, Outbox  # noqa: E402
from advnets.demo.watch import watch  # noqa: E402
from advnets.errors import AdvnetsError, ConfigError  # noqa: E402

TASK_NAMES = {
    "denoise": "denoise",
    "deblur": "deblur",
    "sr2": "super-resolve x2",
    "sr4": "super-resolve x4",
    "inpaint": "inpaint",
}
ALL_CLASSICAL = sorted({name for task in TASK_NAMES for name in classical_names(task)})
WATCH_SECONDS = 5.0  # how often the Watch tab re-reads a run
CACHE_SECONDS = (3600, 3600)  # Gradio's copies of pictures and downloads: hourly, over 1 h old


@dataclass
class Demo:
    """What the page serves: the loaded runs, the start-up problems, where downloads go."""

    runs: list[DemoRun]
    problems: list[str] = field(default_factory=list)
    device: torch.device = torch.device("cpu")
    outbox: Outbox = field(default_factory=Outbox)

    def __post_init__(self) -> None:
        self.shipped = Shipped(self.device)

    def run(self, name: str | None) -> DemoRun:
        for run in self.runs:
            if run.name == name:
                return run
        raise ConfigError(f"no run named {name!r} on this page; pick one from the list")

    def names(self, test: Callable[[DemoRun], bool]) -> list[str]:
        return [run.name for run in self.runs if test(run)]


def for_page(fn: Callable) -> Callable:
    """A handler whose errors reach the page as one line (a Gradio error box), never a
    traceback; unexpected ones are logged on the server."""

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except AdvnetsError as err:
            raise gr.Error(str(err), print_exception=False) from None
        except gr.Error:
            raise
        except Exception as err:  # a bug or an exhausted machine: logged, one line shown
            traceback.print_exc(file=sys.stderr)
            raise gr.Error(
                f"the server failed on this request ({type(err).__name__}); see its log",
                print_exception=False,
            ) from None

    return wrapped


def _picture(label: str, elem_id: str | None = None) -> gr.Image:
    """An output picture, sent losslessly (PNG)."""
    return gr.Image(label=label, type="numpy", format="png", interactive=False, elem_id=elem_id)


def _run_picker(names: list[str], label: str = "run") -> gr.Dropdown:
    return gr.Dropdown(names, value=names[0] if names else None, label=label)


def _classes_of(demo: Demo, name: str | None) -> list[str]:
    run = demo.run(name) if name else None
    return h.class_names(run) if run is not None and run.conditional else []


def _psi_of(demo: Demo, name: str | None) -> float:
    """The truncation psi the Generate tab starts at for run `name`: the run's own."""
    return h.truncation(demo.run(name)) if name else 1.0


def _truncation_sliders(psi: float) -> tuple[gr.Slider, gr.Slider]:
    """The Generate tab's two truncations: Jacobian (the kept fraction) and the trick's psi."""
    keep_label = "keep (Jacobian truncation: fraction of draws kept; 1 = off)"
    keep = gr.Slider(0.05, 1.0, 1.0, step=0.05, label=keep_label)
    trick = gr.Slider(
        0.05,
        1.0,
        psi,
        step=0.05,
        label="ψ (truncation trick: z drawn ψ times nearer the prior's centre; 1 = off; "
        "starts at the run's own)",
        elem_id="generate-psi",
    )
    return keep, trick


def _generate_tab(demo: Demo) -> None:
    names = demo.names(lambda r: r.G is not None)
    with gr.Tab("Generate", id="generate"):
        with gr.Row():
            with gr.Column(scale=1):
                run = _run_picker(names)
                seed = gr.Number(0, label="seed", precision=0, minimum=0)
                n = gr.Slider(1, h.MAX_SAMPLES, 64, step=1, label="n (samples)")
                keep, psi = _truncation_sliders(_psi_of(demo, names[0] if names else None))
                first = _classes_of(demo, names[0] if names else None)
                label = gr.Dropdown(
                    ["", *first],
                    value="",
                    visible=bool(first),
                    label="class (conditional runs; empty: one row per class)",
                    allow_custom_value=True,  # the handler checks it against the run's classes
                )
                button = gr.Button("Generate", variant="primary", elem_id="generate-button")
            with gr.Column(scale=2):
                grid = _picture("samples", "generate-grid")
                files = gr.File(
                    label="download: PNG and .npy", file_count="multiple", elem_id="generate-files"
                )

        def classes(name):
            names = _classes_of(demo, name)
            return gr.Dropdown(["", *names], value="", visible=bool(names))

        run.change(for_page(classes), run, label, api_name=False)
        run.change(for_page(lambda name: _psi_of(demo, name)), run, psi, api_name=False)

        @for_page
        def go(name, seed, n, keep, label, psi):
            chosen = demo.run(name)
            picture, png, npy = h.generate(chosen, seed, n, keep, label, demo.outbox, psi)
            return picture, [png, npy]

        button.click(go, [run, seed, n, keep, label, psi], [grid, files], api_name="generate")


def _walk_tab(demo: Demo) -> None:
    names = demo.names(lambda r: r.unconditional_images)
    if not names:
        return
    with gr.Tab("Walk", id="walk"):
        with gr.Row():
            with gr.Column(scale=1):
                run = _run_picker(names)
                pick_seed = gr.Number(0, label="seed of the numbered grid", precision=0, minimum=0)
                show = gr.Button("Show the grid", elem_id="walk-show")
                gr.Markdown("Click a sample for the start, then one for the end, or type them.")
                with gr.Row():
                    seed_a = gr.Number(0, label="start: seed", precision=0, minimum=0)
                    index_a = gr.Number(
                        0, label="start: sample", precision=0, minimum=0, elem_id="walk-index-a"
                    )
                with gr.Row():
                    seed_b = gr.Number(1, label="end: seed", precision=0, minimum=0)
                    index_b = gr.Number(0, label="end: sample", precision=0, minimum=0)
                mode = gr.Radio(["linear", "slerp"], value="slerp", label="path")
                steps = gr.Slider(2, h.MAX_STEPS, 10, step=1, label="steps")
                button = gr.Button("Walk", variant="primary", elem_id="walk-button")
            with gr.Column(scale=2):
                grid = _picture("numbered grid (click to pick)", "walk-grid")
                strip = _picture("the walk", "walk-strip")
                gif = gr.File(label="download: GIF", elem_id="walk-gif")
        show.click(
            for_page(lambda name, s: h.pick_grid(demo.run(name), s)),
            [run, pick_seed],
            grid,
            api_name="walk_grid",
        )
        _wire_clicks(demo, grid, run, pick_seed, [seed_a, index_a, seed_b, index_b])

        @for_page
        def go(name, sa, ia, sb, ib, mode, steps):
            return h.walk(demo.run(name), (sa, ia, sb, ib), mode, steps, demo.outbox)

        button.click(
            go, [run, seed_a, index_a, seed_b, index_b, mode, steps], [strip, gif], api_name="walk"
        )


def _wire_clicks(demo: Demo, grid: gr.Image, run, seed, ends: list) -> None:
    """A click on the numbered grid sets the walk's start, the next click its end."""
    next_end = gr.State(0)

    @for_page
    def pick(name, s, end, evt: gr.SelectData):
        i = h.clicked_index(demo.run(name), *evt.index)
        if end == 0:
            return s, i, gr.update(), gr.update(), 1
        return gr.update(), gr.update(), s, i, 0

    grid.select(pick, [run, seed, next_end], [*ends, next_end], api_name=False)


def _arithmetic_tab(demo: Demo) -> None:
    names = demo.names(lambda r: r.unconditional_images)
    if not names:
        return
    with gr.Tab("Arithmetic", id="arithmetic"):
        with gr.Row():
            with gr.Column(scale=1):
                run = _run_picker(names)
                seed = gr.Number(0, label="seed of the numbered grid", precision=0, minimum=0)
                show = gr.Button("Show the grid", elem_id="arithmetic-show")
                a = gr.Textbox("0, 1, 2", label="A: sample numbers")
                b = gr.Textbox("3, 4, 5", label="B: sample numbers (subtracted)")
                c = gr.Textbox("6, 7, 8", label="C: sample numbers (added)")
                button = gr.Button("A - B + C", variant="primary", elem_id="arithmetic-button")
            with gr.Column(scale=2):
                grid = _picture("numbered grid", "arithmetic-grid")
                out = _picture("mean z_A - mean z_B + mean z_C (DCGAN Figure 7)", "arithmetic-out")
        show.click(
            for_page(lambda name, s: h.pick_grid(demo.run(name), s, h.ARITHMETIC_GRID)),
            [run, seed],
            grid,
            api_name="arithmetic_grid",
        )
        button.click(
            for_page(lambda name, s, a, b, c: h.arithmetic(demo.run(name), s, a, b, c)),
            [run, seed, a, b, c],
            out,
            api_name="arithmetic",
        )


def _restore_inputs(demo: Demo) -> list:
    """The Restore tab's inputs: task, photo, whether to corrupt it, clean original, drawn
    mask, generator, classical methods."""
    task = gr.Dropdown([(v, k) for k, v in TASK_NAMES.items()], value="denoise", label="task")
    photo = gr.File(label="photo (PNG/JPEG)", file_types=["image"], elem_id="restore-photo")
    corrupt = gr.Checkbox(
        True, label="the photo is clean: corrupt it here, restore it, score against it"
    )
    original = gr.File(label="clean original (optional, for PSNR/SSIM)", file_types=["image"])
    mask = gr.Sketchpad(
        label="inpaint an already corrupted photo: paint the missing region",
        type="numpy",
        image_mode="RGBA",
        canvas_size=(256, 256),
        visible=False,
        brush=gr.Brush(default_size=24, colors=["#000000"], color_mode="fixed"),
    )
    generator = gr.Dropdown(
        restorer_names("denoise", demo.runs),
        value=SHIPPED,
        label="generator",
        allow_custom_value=True,  # another task's runs: the handler checks
    )
    methods = gr.CheckboxGroup(
        ALL_CLASSICAL,  # narrowed to the task's in the page; the handler checks
        value=classical_names("denoise"),
        label="classical methods beside it",
    )
    return [task, photo, corrupt, original, mask, generator, methods]


def _restore_tab(demo: Demo, app: gr.Blocks) -> None:
    with gr.Tab("Restore", id="restore"), gr.Row():
        with gr.Column(scale=1):
            inputs = _restore_inputs(demo)
            button = gr.Button("Restore", variant="primary", elem_id="restore-button")
        with gr.Column(scale=2):
            gallery = gr.Gallery(
                label="restorations", elem_id="restore-gallery", columns=3, format="png"
            )
            table = gr.Dataframe(
                headers=["restorer", "PSNR dB", "SSIM", "ms"],
                label="against the clean original",
                elem_id="restore-table",
                interactive=False,
            )
    task, _, corrupt, _, mask, generator, methods = inputs

    def options(task, corrupt):
        names = classical_names(task)
        return (
            gr.Dropdown(restorer_names(task, demo.runs), value=SHIPPED),
            gr.CheckboxGroup(names, value=names),
            gr.Sketchpad(visible=task == "inpaint" and not corrupt),
        )

    for event in (app.load, task.change, corrupt.change):
        event(options, [task, corrupt], [generator, methods, mask], api_name=False)

    @for_page
    def go(task, photo, corrupt, original, mask, generator, methods):
        inputs = (photo, corrupt, original, mask)
        return restore(task, inputs, generator, methods or [], demo.runs, demo.shipped)

    button.click(go, inputs, [gallery, table], api_name="restore")


def _classify_tab(demo: Demo) -> None:
    names = demo.names(lambda r: r.D is not None)
    if not names:
        return
    with gr.Tab("Classify", id="classify"):
        with gr.Row():
            with gr.Column(scale=1):
                run = _run_picker(names)
                upload = gr.File(
                    label="picture (PNG/JPEG)", file_types=["image"], elem_id="classify-upload"
                )
                drawing = gr.Sketchpad(
                    label="or draw one (used when there is a drawing)",
                    elem_id="classify-drawing",
                    brush=gr.Brush(default_size=18, colors=["#000000"], color_mode="fixed"),
                    type="numpy",
                    image_mode="RGBA",
                    canvas_size=(224, 224),
                )
                invert = gr.Checkbox(False, label="invert (dark ink on a light page, unlike MNIST)")
                button = gr.Button("Classify", variant="primary", elem_id="classify-button")
            with gr.Column(scale=2):
                probs = gr.Label(
                    num_top_classes=10, label="class probabilities", elem_id="classify-probs"
                )
                seen = _picture("as the classifier sees it", "classify-seen")
        button.click(
            for_page(lambda name, u, d, i: h.classify(demo.run(name), u, d, i)),
            [run, upload, drawing, invert],
            [probs, seen],
            api_name="classify",
        )


def _reconstruct_tab(demo: Demo) -> None:
    names = demo.names(lambda r: r.E is not None)
    if not names:
        return
    with gr.Tab("Reconstruct", id="reconstruct"):
        with gr.Row():
            with gr.Column(scale=1):
                run = _run_picker(names)
                upload = gr.File(label="picture (PNG/JPEG)", file_types=["image"])
                invert = gr.Checkbox(False, label="invert (dark ink on a light page)")
                button = gr.Button("Reconstruct", variant="primary", elem_id="reconstruct-button")
            with gr.Column(scale=2):
                pair = _picture("original | reconstruction G(E(x))")
                score = gr.Number(label="PSNR dB", interactive=False)
        button.click(
            for_page(lambda name, u, i: h.reconstruct(demo.run(name), u, i)),
            [run, upload, invert],
            [pair, score],
            api_name="reconstruct",
        )


def _watch_tab(demo: Demo) -> None:
    names = demo.names(
        lambda r: (r.folder / "metrics.jsonl").exists() or (r.folder / "samples").is_dir()
    )
    if not names:
        return
    with gr.Tab("Watch", id="watch"):
        run = _run_picker(names)
        follow = gr.Checkbox(True, label=f"follow (re-read every {WATCH_SECONDS:g} s)")
        status = gr.Markdown()
        with gr.Row():
            samples = _picture("newest samples")
            curves = gr.Image(label="curves (metrics.jsonl)", type="filepath", interactive=False)
        timer = gr.Timer(WATCH_SECONDS, active=True)
        look = for_page(lambda name: watch(demo.run(name), demo.outbox))
        run.change(look, run, [samples, curves, status], api_name="watch")
        timer.tick(look, run, [samples, curves, status], api_name=False)
        follow.change(lambda f: gr.Timer(active=f), follow, timer, api_name=False)


def build_app(demo: Demo) -> gr.Blocks:
    """The page: a header naming the runs (and how many folders were skipped), then the
    tabs."""
    with gr.Blocks(
        title="advnets demo", analytics_enabled=False, delete_cache=CACHE_SECONDS
    ) as app:
        shown = ", ".join(run.name for run in demo.runs) or "none"
        skipped = len(demo.problems)  # their paths stay in the server's log
        note = f" ({skipped} folder(s) skipped: see the server's log)" if skipped else ""
        gr.Markdown(f"## advnets demo\nRuns: {shown}{note}", elem_id="header")
        with gr.Tabs():
            if demo.names(lambda r: r.G is not None):
                _generate_tab(demo)
            _walk_tab(demo)
            _arithmetic_tab(demo)
            _restore_tab(demo, app)
            _classify_tab(demo)
            _reconstruct_tab(demo)
            _watch_tab(demo)
    return app


def offline_theme() -> gr.themes.Theme:
    """Gradio's look in the system's fonts: the page fetches nothing from the internet."""
    return gr.themes.Default(
        font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"]
    )


def launch(app: gr.Blocks, demo: Demo, host: str, port: int, block: bool = True):
    """Serve `app` on host:port, never shared, uploads bounded, the run folders blocked
    from Gradio's file route."""
    app.queue(default_concurrency_limit=2)
    return app.launch(
        server_name=host,
        server_port=port,
        share=False,
        inbrowser=False,
        quiet=True,
        show_error=True,
        ssr_mode=False,
        max_file_size=MAX_UPLOAD_BYTES,
        blocked_paths=[str(run.folder.resolve()) for run in demo.runs],
        footer_links=["api"],
        theme=offline_theme(),
        prevent_thread_lock=not block,
        mcp_server=False,
        pwa=False,
    )
