"""MazeNET by DECNET: the controller library behind the `decnet` CLI and the Ansible collection."""

__version__ = "0.1.0"
