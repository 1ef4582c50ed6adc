"""Platform names in the inventory -> NAPALM driver names, through netutils' library mapper.

An inventory may name a platform the way other network tools do (netutils' normalized names, also used by
Nautobot, netmiko and ntc-templates: ``arista_eos``, ``cisco_ios``, ``cisco_xe``, ``juniper_junos``,
``cisco_nxos``, ``cisco_xr``); netimmutable opens the NAPALM driver netutils maps it to
(``netutils.lib_mapper.NAPALM_LIB_MAPPER_REVERSE``). NAPALM's own driver names, this package's ``frr`` and
``sim``, and any other name (a community driver such as ``napalm-sros``'s ``sros``) are used as they are.
The inventory's ``platform`` itself is unchanged: templates are still found under ``templates/<platform>/``.

``cisco_xr`` maps to NAPALM's ``iosxr`` (the XML agent driver), as netutils says; for IOS-XR over
NETCONF name the driver: ``platform: iosxr_netconf``, or ``driver: iosxr_netconf`` in
``.netimmutable/connections.yaml``.

Examples:
    >>> [napalm_driver(p) for p in ("arista_eos", "cisco_ios", "cisco_xe", "juniper_junos", "cisco_nxos")]
    ['eos', 'ios', 'ios', 'junos', 'nxos']
    >>> napalm_driver("cisco_xr"), napalm_driver("iosxr_netconf"), napalm_driver("frr"), napalm_driver("acme")
    ('iosxr', 'iosxr_netconf', 'frr', 'acme')
"""

from __future__ import annotations

from netutils.lib_mapper import NAPALM_LIB_MAPPER, NAPALM_LIB_MAPPER_REVERSE

__all__ = ["napalm_driver"]


def napalm_driver(platform: str) -> str:
    """The NAPALM driver name for the inventory platform ``platform`` (see the module docstring)."""
    if platform in NAPALM_LIB_MAPPER:  # already a NAPALM driver name (vyos maps to itself)
        return platform
    return str(NAPALM_LIB_MAPPER_REVERSE.get(platform, platform))
