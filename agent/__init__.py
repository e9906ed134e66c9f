"""The MazeNET agent: a FastAPI service that makes this host's Docker match the topology
the master pins on it (`agent.app.create_app`, served by `decnet agent serve`)."""
