"""Sub-commands of ``python -m conversion``, one module each."""
