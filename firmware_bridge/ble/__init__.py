"""The band over Bluetooth LE: GATT profile, bleak link, bumble virtual air and peripheral."""
