"""Write scikit-image's sample photographs (astronaut, coffee, chelsea, rocket: none used
for training or choosing anything here) to a folder as PNG, for
`benchmarks/restoration.py --photos DIR`:

    python benchmarks/sample_photos.py photos
"""

import sys
from pathlib import Path

from PIL import Image
from skimage import data

NAMES = ("astronaut", "coffee", "chelsea", "rocket")


def main(folder: str) -> None:
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    for name in NAMES:
        Image.fromarray(getattr(data, name)()).save(out / f"{name}.png")
        print(out / f"{name}.png")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "photos")
