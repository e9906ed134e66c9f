"""The full emulators: one asyncio process per service container (see images/README.md).

`python -m decnet_emu` reads its service, ports and configuration from the environment
(DECNET_SERVICE, DECNET_PORTS, DECNET_CFG_*, DECNET_PERSONA), listens on every port and runs
the service's protocol module (`decnet_emu.protocols.<service>`) per TCP connection or UDP
datagram. Every event is one `DECNET1` line on stdout (`decnet_emu.events`).
"""
