"""Build sources: a raw GenImage tree or the CL tensor release, opened once and read safely."""
