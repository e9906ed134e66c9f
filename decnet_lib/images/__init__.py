"""Offline-built Docker images: the decky base and the service emulators."""

from decnet_lib.images.build import (
    EMULATOR_IMAGE,
    BusyboxMissing,
    ImageBuildError,
    build_images,
    docker_client,
    images_dir,
)

__all__ = [
    "EMULATOR_IMAGE",
    "BusyboxMissing",
    "ImageBuildError",
    "build_images",
    "docker_client",
    "images_dir",
]
