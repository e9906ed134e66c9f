"""One typed payload model per mutation op; a bad payload is refused before queueing."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from decnet_lib.errors import DecnetError
from decnet_lib.validation.free_form import MAX_FREE_FORM_DEPTH, free_form_issues

DECKY_PATCHABLE = frozenset(
    {"forwards_l3", "expose", "service_config", "images", "emulation", "domain", "meta",
     "resources"}
)
LAN_PATCHABLE = frozenset({"meta", "driver", "parent"})
LAN_FROZEN_WHILE_LIVE = frozenset({"subnet", "dmz"})


def check_patch_keys(op: str, patch: dict[str, Any] | None, allowed: frozenset[str]) -> None:
    """Refuse a patch naming a field the op cannot change (before it is ever queued)."""
    unknown = set(patch or ()) - allowed
    if unknown:
        raise ValueError(f"{op} cannot patch {sorted(unknown)}; patchable: {sorted(allowed)}")


MAX_PAYLOAD_DEPTH = MAX_FREE_FORM_DEPTH + 4  # payload -> patch -> meta -> ...


class BadPayload(DecnetError):
    """An unknown op or a payload that does not fit the op's model."""

    code = "BAD_PAYLOAD"
    exit_code = 2


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class AddLan(_Payload):
    name: str
    subnet: str | None = Field(default=None, description="Allocated from the pool when absent.")
    dmz: bool = False


class RemoveLan(_Payload):
    name: str


class AddDecky(_Payload):
    name: str
    lan: str = Field(description="The home LAN.")
    services: list[str] | None = None
    archetype: str | None = None
    ip: str | None = None
    forwards_l3: bool = False
    expose: bool = False
    service_config: dict[str, dict[str, Any]] = Field(default_factory=dict)
    emulation: Literal["light", "full"] | None = Field(
        default=None, description="Default: what the topology's deckies share, else full."
    )


class AttachDecky(_Payload):
    decky: str
    lan: str
    ip: str | None = None


class DetachDecky(_Payload):
    decky: str
    lan: str


class UpdateDecky(_Payload):
    decky: str
    patch: dict[str, Any] | None = Field(
        default=None,
        description="JSON merge patch (RFC 7386) over forwards_l3, expose, service_config, "
        "images, emulation, domain and meta.",
    )
    services: list[str] | None = Field(default=None, description="Replaces the service list.")

    @field_validator("patch")
    @classmethod
    def _patchable(cls, patch: dict[str, Any] | None) -> dict[str, Any] | None:
        check_patch_keys("update_decky", patch, DECKY_PATCHABLE)
        return patch


class RemoveDecky(_Payload):
    decky: str


class UpdateLan(_Payload):
    name: str
    patch: dict[str, Any] = Field(
        description="JSON merge patch over meta, driver and parent (subnet and dmz only "
        "with their current values)."
    )

    @field_validator("patch")
    @classmethod
    def _patchable(cls, patch: dict[str, Any]) -> dict[str, Any]:
        check_patch_keys("update_lan", patch, LAN_PATCHABLE | LAN_FROZEN_WHILE_LIVE)
        return patch


PAYLOAD_MODELS: dict[str, type[_Payload]] = {
    "add_lan": AddLan,
    "remove_lan": RemoveLan,
    "add_decky": AddDecky,
    "attach_decky": AttachDecky,
    "detach_decky": DetachDecky,
    "update_decky": UpdateDecky,
    "remove_decky": RemoveDecky,
    "update_lan": UpdateLan,
}


def parse_payload(op: str, payload: Any) -> _Payload:
    """The typed payload of `op`; raises BadPayload with one clear line."""
    model = PAYLOAD_MODELS.get(op) if isinstance(op, str) else None
    if model is None:
        raise BadPayload(f"unknown op {op!r}: use one of {', '.join(PAYLOAD_MODELS)}")
    if not isinstance(payload, dict):
        raise BadPayload(f"{op} payload must be a JSON object")
    shape = free_form_issues(payload, "payload", max_depth=MAX_PAYLOAD_DEPTH)
    if shape:
        raise BadPayload(f"{op} {shape[0].target}: {shape[0].message}")
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"]) or "payload"
        reason = "unknown field" if first["type"] == "extra_forbidden" else first["msg"]
        reason = reason.removeprefix("Value error, ")
        raise BadPayload(f"{op} payload: {field}: {reason}") from None
