"""Image files to pixels: structure checks, decoding, the release's pixel pipeline and its corruptions."""
