"""The ways researchers use a loaded config: task streams, CL libraries, torch, the paper's tensors, ImageFolder."""
