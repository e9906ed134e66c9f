# -*- coding: utf-8 -*-
# Copyright: MazeNET by DECNET
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The attributes every decnet.mazenet module shares (check and diff mode stay per module)."""

from __future__ import annotations


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
attributes:
  platform:
    platforms: posix
  action_group:
    support: full
    membership:
      - decnet.mazenet.all
"""
