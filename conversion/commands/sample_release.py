"""Write a sample GenImage tree and, from it, a CL tensor release laid out like the original scripts'.

The release is made as the original CL scripts made theirs (the release's 64x64 pixels, ToTensor,
Normalize, y = clsloc id - 1), so publishing from it can be tried and checked without the 60 GB.

Example:
  python -m conversion sample-release --workdir genimage-cl-demo
  python -m conversion publish --data-dir genimage-cl-demo/release --out genimage-cl-demo/hub/genimage-cl
"""

from __future__ import annotations

from pathlib import Path

from conversion import sample_release

NAME = "sample-release"
HELP = "write a sample GenImage tree and an original-style tensor release of it"


def add_arguments(parser) -> None:
    parser.add_argument("--workdir", type=Path, default=Path("genimage-cl-demo"),
                        help="folder for GenImage/ and release/ (default: ./genimage-cl-demo)")
    parser.add_argument("--layout", default="original", choices=sorted(sample_release.RELEASE_LAYOUTS),
                        help="release folder naming (default: original, the scripts' processedSingleGenerators/...)")


def run(args) -> int:
    from conversion import sample_tree

    tree = args.workdir / "GenImage"
    if not tree.exists():
        print(f"writing sample GenImage tree to {tree}")
        sample_tree.make_sample_tree(tree)
    out = args.workdir / "release"
    sample_release.make_sample_release(tree, out, layout=args.layout)
    print(f"wrote the tensor release to {out}")
    return 0
