"""Write scikit-image's sample photographs to a folder as PNG.

    python benchmarks/sample_photos.py photos
    python benchmarks/sample_photos.py --training photo-tiles
    python benchmarks/sample_photos.py --validation photo-valid

The first writes the four test photos (astronaut, coffee, chelsea, rocket: none used for
training or choosing anything here) for `benchmarks/restoration.py --photos DIR`. The second
cuts scikit-image's other natural pictures (never the four) into TILE x TILE tiles at their own
resolution, one PNG each, a folder to train a restorer on photo-scale content:
`advnets train restore-denoise-photos --images photo-tiles`. The third writes the two
photographs kept out of the tiles to choose a checkpoint on.
"""

import argparse
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

NAMES = ("astronaut", "coffee", "chelsea", "rocket")
# two grey photographs to choose a checkpoint on (neither trained on nor a test photo)
VALIDATION = ("camera", "coins")
# scikit-image's other photographs and micrographs (no drawings, charts or blurred shots)
TRAINING = (
    "motorcycle_left.png",
    "motorcycle_right.png",
    "moon.png",
    "brick.png",
    "grass.png",
    "gravel.png",
    "cell.png",
    "ihc.png",
    "retina.jpg",
    "hubble_deep_field.jpg",
)

DARK = 16  # a tile darker than this on average (of 255) is left out: mostly clipped noise


def whole_photos(out: Path, names: tuple[str, ...]) -> None:
    """The named photographs, whole."""
    for name in names:
        Image.fromarray(getattr(data, name)()).save(out / f"{name}.png")
        print(out / f"{name}.png")


def training_tiles(out: Path, tile: int) -> None:
    """Every whole tile x tile square of each training picture that is not black, as RGB."""
    for name in TRAINING:
        image = np.asarray(Image.open(Path(data.data_dir) / name).convert("RGB"))
        rows, cols, kept = image.shape[0] // tile, image.shape[1] // tile, 0
        for i in range(rows):
            for j in range(cols):
                part = image[i * tile : (i + 1) * tile, j * tile : (j + 1) * tile]
                if part.mean() < DARK:  # the black surround of the retina and the sky
                    continue
                Image.fromarray(part).save(out / f"{Path(name).stem}-{i:02d}-{j:02d}.png")
                kept += 1
        print(f"{name}: {kept} of {rows * cols} tiles")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", default="photos")
    parser.add_argument("--training", metavar="DIR", help="write training tiles here instead")
    parser.add_argument("--validation", metavar="DIR", help="write the validation photos here")
    parser.add_argument("--tile", type=int, default=96, help="training tile side (pixels)")
    args = parser.parse_args()
    out = Path(args.training or args.validation or args.folder)
    out.mkdir(parents=True, exist_ok=True)
    if args.training:
        training_tiles(out, args.tile)
    else:
        whole_photos(out, VALIDATION if args.validation else NAMES)


if __name__ == "__main__":
    main()
