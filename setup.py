"""The optional C part of the build: fast YAML loading on libyaml (everything else is in
pyproject.toml). Without libyaml's headers the build goes on and PyYAML alone is used."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "decnet_lib.topology._fastyaml",
            sources=["decnet_lib/topology/_fastyaml.c"],
            libraries=["yaml"],
            optional=True,
        )
    ]
)
