"""hatang: build and audit a province's OpenStack private cloud from one site model."""

import os

__version__ = "0.1.0"

# hatang uses no pydantic plugins; looking for them reads the metadata of every installed package
# (130 here) when the first model is built, some 30-70 ms of every command. Set the variable
# yourself (even empty) to have pydantic look for plugins again.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
