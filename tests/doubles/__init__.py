"""Stateful device doubles for the vendors that cannot run here (EOS, Junos, IOS, IOS-XR, NX-OS).

Each double speaks its vendor's management protocol on 127.0.0.1 (eAPI, NX-API, NETCONF, SSH CLI + SCP), so
NAPALM's own driver code runs against it unchanged. Test infrastructure only: product code never imports it.
"""
