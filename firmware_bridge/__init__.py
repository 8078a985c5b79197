"""The leg band: wire protocol codec, serial and BLE links, capture files, the virtual band."""
