"""The change-window fixtures (example network on simulated devices, first release deployed), shared."""

from __future__ import annotations

from tests.unit.deploy.conftest import Net, fresh_net, net

__all__ = ["Net", "fresh_net", "net"]
