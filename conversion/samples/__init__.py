"""Small deterministic sample data: a GenImage-like tree and a CL tensor release made from it."""
