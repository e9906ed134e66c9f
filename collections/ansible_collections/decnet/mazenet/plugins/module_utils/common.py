# -*- coding: utf-8 -*-
# Copyright: MazeNET by DECNET
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The import guard for decnet_lib and the one way every module calls it and reports.

The modules stay thin: they parse their arguments and hand them to a function of
decnet_lib.automation, which returns {changed, diff: {before, after}, ...} or raises
AutomationError (turned into fail_json with its details).
"""

from __future__ import annotations

import contextlib
import sys
import traceback

from ansible.module_utils.basic import missing_required_lib

try:
    from decnet_lib import automation as _automation
    from decnet_lib.errors import DecnetError as _DecnetError
except ImportError:
    HAS_DECNET = False
    DECNET_IMPORT_ERROR = traceback.format_exc()
    _automation = None
    _DecnetError = None
else:
    HAS_DECNET = True
    DECNET_IMPORT_ERROR = None

DECNET_LIB_URL = "https://github.com/decnet/mazenet"


def require_decnet(module):
    """Fail with missing_required_lib when decnet_lib cannot be imported."""
    if not HAS_DECNET:
        module.fail_json(
            msg=missing_required_lib(
                "decnet_lib",
                url=DECNET_LIB_URL,
                reason="to manage MazeNET (set ansible_python_interpreter to the Python of the MazeNET virtualenv)",
            ),
            exception=DECNET_IMPORT_ERROR,
        )


def backend(name):
    """A function of decnet_lib.automation by name (after require_decnet)."""
    return getattr(_automation, name)


def run(module, function_name):
    """Call decnet_lib.automation.<function_name>(params, check_mode) and exit the module."""
    require_decnet(module)
    function = backend(function_name)
    try:
        # the library never prints, but stdout must stay the module's JSON answer
        with contextlib.redirect_stdout(sys.stderr):
            result = function(module.params, check_mode=module.check_mode)
    except _automation.AutomationError as exc:
        module.fail_json(**exc.to_result())
    except _DecnetError as exc:
        module.fail_json(msg=exc.message, error_code=exc.code)
    result = dict(result)
    for warning in result.pop("warnings", None) or []:
        module.warn(warning)
    if not module._diff:
        result.pop("diff", None)
    module.exit_json(**result)
