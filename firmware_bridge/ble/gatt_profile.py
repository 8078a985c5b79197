"""The band's GATT profile: service and characteristic UUIDs, advertised name (docs/protocol.md)."""

from __future__ import annotations

# Project UUIDs: one random 128-bit base, the 16-bit field at octets 2-3 numbers the
# service (0x0001) and its characteristics (0x0002..), as Nordic's UART service does.
SERVICE_UUID = "c7a40001-5b2e-4e8c-9a51-7f3d2e6b1c90"
DATA_CHAR_UUID = "c7a40002-5b2e-4e8c-9a51-7f3d2e6b1c90"  # notify: one data/status packet each
CONTROL_CHAR_UUID = "c7a40003-5b2e-4e8c-9a51-7f3d2e6b1c90"  # write commands, indicate acks
DESCRIPTOR_CHAR_UUID = "c7a40004-5b2e-4e8c-9a51-7f3d2e6b1c90"  # read: device descriptor

# Bands advertise a local name starting with this prefix, e.g. "CrampBand-1A2B".
NAME_PREFIX = "CrampBand"
