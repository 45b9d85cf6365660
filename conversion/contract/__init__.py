"""The contract: the project's tables (labels, tasks, generators) and the configs and columns built on them."""
