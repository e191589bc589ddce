"""Write scikit-image's sample photographs to a folder as PNG.

    python benchmarks/sample_photos.py photos
    python benchmarks/sample_photos.py --split train photo-tiles

The first writes the four test photos (astronaut, coffee, chelsea, rocket: none used for
training or choosing anything here) whole, for `benchmarks/restoration.py --photos DIR`;
`--whole valid` writes the two validation photos whole instead. The second writes the tiles
of a split of the `photos` data set (advnets/data/sample_photos.py) as one PNG each: the
same pictures as `advnets train restore-denoise-photos` trains on, as a folder that
`--images DIR --size 96` reads like one's own.
"""

import argparse
from pathlib import Path

from PIL import Image

from advnets.data.sample_photos import PICTURES, picture, tiles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", default="photos")
    parser.add_argument("--whole", default="test", choices=sorted(PICTURES), help="split")
    parser.add_argument("--split", choices=sorted(PICTURES), help="write this split's tiles")
    args = parser.parse_args()
    out = Path(args.folder)
    out.mkdir(parents=True, exist_ok=True)
    for name in PICTURES[args.split or args.whole]:
        image, stem = picture(name), Path(name).stem
        if not args.split:
            Image.fromarray(image).save(out / f"{stem}.png")
            print(out / f"{stem}.png")
            continue
        kept = tiles(image)
        for i, j, tile in kept:
            Image.fromarray(tile).save(out / f"{stem}-{i:02d}-{j:02d}.png")
        print(f"{name}: {len(kept)} tiles")


if __name__ == "__main__":
    main()
