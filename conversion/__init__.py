"""genimage-cl conversion pipeline: tables, file naming, pixels, builders' helpers and the CLI."""
