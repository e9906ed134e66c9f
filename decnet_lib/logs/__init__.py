"""What the emulators log: the structured event line and its parser."""

from decnet_lib.logs.emulator_line import (
    EmulatorEvent,
    decode_value,
    encode_value,
    format_line,
    parse_line,
)

__all__ = ["EmulatorEvent", "decode_value", "encode_value", "format_line", "parse_line"]
