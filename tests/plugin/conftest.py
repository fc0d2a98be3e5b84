# pytester's in-process runs drop the modules first imported during the run. Imported here, they stay: a module
# imported again later would be a second copy (httpcore and httpx: see tests/conftest.py).
import simulator.api.app
import simulator.core.simulator
import simulator.testing.local  # noqa: F401

# `consumer/` is a sample project copied into pytester's directory by the tests, not collected here.
collect_ignore = ["consumer"]
