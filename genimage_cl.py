"""GenImage-CL: the GenImage continual-learning benchmark as a Hugging Face dataset.

Build a config from an unzipped GenImage tree::

    from genimage_cl import GenImageCL
    builder = GenImageCL(config_name="sdv14", data_dir="/data/GenImage")
    builder.download_and_prepare()
    ds = builder.as_dataset()

On datasets 3.6 the same file is a loading script (install the project first, ``pip install -e .``,
so that ``conversion`` imports from the copy datasets makes in its modules cache):
``load_dataset("./genimage_cl.py", "sdv14", data_dir=..., trust_remote_code=True)``.
The builder itself is :mod:`conversion.builder.genimage_cl`.
"""

# datasets 3.x checks this import before running the script; after "From:" is its install hint
# (the PyPI package called "conversion" is another project).
from conversion.builder.genimage_cl import GenImageCL, GenImageCLConfig  # From: -e <the folder holding genimage_cl.py>

__all__ = ["GenImageCL", "GenImageCLConfig"]
