"""What the GenImageCL builder runs beside its source: corrupted rows, build reports, culprits, counts."""
