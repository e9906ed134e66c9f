"""Offline-built Docker images: the decky base and the service emulators (light and full)."""

from decnet_lib.images.build import (
    EMULATOR_IMAGE,
    FULL_IMAGE,
    BusyboxMissing,
    ImageBuildError,
    build_images,
    docker_client,
    images_dir,
)

__all__ = [
    "EMULATOR_IMAGE",
    "FULL_IMAGE",
    "BusyboxMissing",
    "ImageBuildError",
    "build_images",
    "docker_client",
    "images_dir",
]
