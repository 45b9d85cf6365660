"""Write a sample GenImage tree and, from it, a CL tensor release laid out like the original scripts'.

Both hold the release's six generators of GenImage's eight (ADM, BigGAN, Midjourney, GLIDE, SD v1.4, VQDM;
the release dropped SD v1.5 and never used Wukong), as the real release does.

The release is made exactly as the original CL scripts made theirs (release pixels, ToTensor, Normalize,
y = clsloc id - 1), so it can be published and checked without the 60 GB. The
GenImage-Disjoint test parts get the four corrupted copies (X_<corruption>.pt), made
with the release's recipe: two beside X.pt, two in <generator>/disjoint/test/<source>/.

Example:
  python -m conversion sample-release --workdir genimage-cl-demo
  python -m conversion publish --data-dir genimage-cl-demo/release --out genimage-cl-demo/hub/genimage-cl
"""

from __future__ import annotations

from pathlib import Path

from conversion.commands import options
from conversion.contract import tables
from conversion.samples import tensor_release

SAMPLE_IMAGES_PER_CLASS = 6
NAME = "sample-release"
HELP = "write a sample GenImage tree and an original-style tensor release of it (the release's 6 of the 8 generators)"


def add_arguments(parser) -> None:
    parser.add_argument("--workdir", type=options.local_path, default=Path("genimage-cl-demo"),
                        help="folder for GenImage/ and release/ (default: ./genimage-cl-demo)")
    parser.add_argument("--no-corruptions", action="store_true",
                        help="leave out the corrupted test copies X_<corruption>.pt of the GenImage-Disjoint parts "
                             "(written by default, with the release's recipe; needs scikit-image)")
    parser.add_argument("--layout", default="original", choices=sorted(tensor_release.RELEASE_LAYOUTS),
                        help="release folder naming (default: original, the scripts' processedSingleGenerators/...)")


def run(args) -> int:
    from conversion.samples import genimage_tree

    tree = args.workdir / "GenImage"
    kept = tables.task_order()
    print(f"the release's {len(kept)} of GenImage's {len(tables.generators())} generators: {', '.join(kept)}")
    if not tree.exists():
        print(f"writing sample GenImage tree to {tree}")
        # the release's six generators; 12 test images per task and source, so that the corrupted copies
        # (the first floor(N/10)*10 rows) are not empty
        genimage_tree.make_sample_tree(tree, generators=list(kept),
                                       images_per_class=SAMPLE_IMAGES_PER_CLASS)
    out = args.workdir / "release"
    tensor_release.make_sample_release(tree, out, layout=args.layout, corrupted=not args.no_corruptions)
    print(f"wrote the tensor release to {out}")
    return 0
