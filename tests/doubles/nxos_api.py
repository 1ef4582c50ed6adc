"""The NX-OS double's commands: NX-API JSON-RPC (``NxosCli``) and the SSH shell for SCP (``NxosShell``).

JSON-RPC answers (napalm/nxapi_plumbing/api_client.py ``RPCClient._process_api_response`` reads them):
``{"jsonrpc": "2.0", "result": {"body": ...}, "id": n}`` for ``cli``, ``{"result": {"msg": "..."}}`` for
``cli_ascii``, ``"result": null`` for a command with no output, and ``{"error": {"code": -32602, "message":
"Invalid params", "data": {"msg": "..."}}}`` for a failed command (nxapi_plumbing raises
``NXAPICommandError`` with ``data.msg``).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tests.doubles import nxos_config as nx
from tests.doubles.ios_config import parse

if TYPE_CHECKING:
    from tests.doubles.nxos import NxosDouble

__all__ = ["CliError", "NxosCli", "NxosShell"]

INVALID = "% Invalid command at '^' marker.\n"


class CliError(Exception):
    """A command the device refuses; its message is what NX-API returns as ``error.data.msg``."""


def _rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]] | dict[str, Any]:
    """NX-OS gives a ``ROW_x`` of one entry as that entry, not a list of one."""
    return rows[0] if len(rows) == 1 else rows


class NxosCli:
    """Runs NX-API commands against one ``NxosDouble``."""

    def __init__(self, device: NxosDouble) -> None:
        self.device = device

    def rpc(self, request: dict[str, Any]) -> dict[str, Any]:
        method = request.get("method", "cli")
        command = " ".join(str(request.get("params", {}).get("cmd", "")).split())
        answer: dict[str, Any] = {"jsonrpc": "2.0", "id": request.get("id")}
        with self.device.lock:
            self.device.log.append(f"api: {method}: {command}")
            try:
                result = self.run(command)
            except CliError as e:
                answer["error"] = {"code": -32602, "message": "Invalid params", "data": {"msg": str(e)}}
                return answer
        if result is None:
            answer["result"] = None
        elif method == "cli_ascii":
            answer["result"] = {"msg": result if isinstance(result, str) else str(result)}
        else:
            answer["result"] = {"body": result}
        return answer

    def run(self, command: str) -> Any:
        exact: dict[str, Callable[[], Any]] = {
            "show hostname": lambda: {"hostname": self.device.name},
            "show version": self.show_version,
            "show inventory": self.show_inventory,
            "show interface": self.show_interface,
            "show bgp all summary vrf all": self.show_bgp_summary,
            "show running-config": self.device.show_running,
            "show startup-config": self.device.show_startup,
            "terminal dont-ask": lambda: None,
            "no terminal dont-ask": lambda: None,
            "copy run startup-config": self.copy_run_start,
            "copy running-config startup-config": self.copy_run_start,
        }
        if command in exact:
            return exact[command]()
        prefixed: list[tuple[str, Callable[[str], Any]]] = [
            ("checkpoint file ", self.checkpoint),
            ("delete ", self.delete),
            ("dir ", self.device.dir),
            ("show diff rollback-patch file ", self.diff),
            ("rollback running-config file ", self.rollback),
        ]
        for prefix, run in prefixed:
            if command.startswith(prefix):
                return run(command[len(prefix) :].strip())
        raise CliError(INVALID)

    # ------------------------------------------------------------------ files and rollback
    def copy_run_start(self) -> str:
        self.device.startup = self.device.body
        return "[########################################] 100%\nCopy complete."

    def checkpoint(self, path: str) -> None:
        self.device.bootflash[self.device.file_name(path)] = self.device.checkpoint_text().encode()

    def delete(self, path: str) -> None:
        name = self.device.file_name(path)
        if name not in self.device.bootflash:
            raise CliError(f"No such file or directory: bootflash:{name}")
        del self.device.bootflash[name]

    def _file_body(self, path: str) -> list[str]:
        name = self.device.file_name(path)
        if name not in self.device.bootflash:
            raise CliError(f"No such file or directory: bootflash:{name}")
        return nx.body_of(self.device.bootflash[name].decode("utf-8", "replace"))

    def diff(self, args: str) -> str:
        first, _, second = args.partition(" file ")
        patch = nx.rollback_patch(parse(self._file_body(first)), parse(self._file_body(second.strip())))
        head = "Collecting Running-Config\n#Generating Rollback Patch\n"
        return head + ("\n".join(patch) if patch else "Rollback Patch is Empty")

    def rollback(self, path: str) -> str:
        """``rollback running-config file <path>``, atomic: all of it or, on any error, nothing."""
        lines = self._file_body(path)
        bad = nx.invalid_lines(lines)
        if bad:
            failed = "".join(f"{ln}\n{INVALID}" for ln in bad)
            raise CliError(
                "Collecting Running-Config\n#Generating Rollback Patch\nExecuting Rollback Patch\n"
                f"{failed}Rollback failed. Atomic rollback: no change was applied to the running config."
            )
        self.device.set_body(lines)
        return (
            "Collecting Running-Config\n#Generating Rollback Patch\nExecuting Rollback Patch\n"
            "Generating Running-config for verification\n#Generating Patch for verification\n"
            "Rollback completed successfully."
        )

    # ------------------------------------------------------------------ structured shows
    def show_version(self) -> dict[str, Any]:
        up = int(time.time() - self.device.booted)
        return {
            "header_str": "Cisco Nexus Operating System (NX-OS) Software\nTAC support: http://www.cisco.com/tac\n",
            "bios_ver_str": "",
            "kickstart_ver_str": "9.3(8)",
            "nxos_ver_str": "9.3(8)",
            "nxos_file_name": "bootflash:///nxos.9.3.8.bin",
            "chassis_id": "Nexus9000 C9300v Chassis",
            "cpu_name": "Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz",
            "memory": 16409064,
            "mem_type": "kB",
            "proc_board_id": self.serial,
            "host_name": self.device.name,
            "bootflash_size": 4287040,
            "kern_uptm_days": up // 86400,
            "kern_uptm_hrs": up % 86400 // 3600,
            "kern_uptm_mins": up % 3600 // 60,
            "kern_uptm_secs": up % 60,
            "manufacturer": "Cisco Systems, Inc.",
        }

    @property
    def serial(self) -> str:
        return "9" + hashlib.sha256(self.device.name.encode()).hexdigest()[:10].upper()

    def show_inventory(self) -> dict[str, Any]:
        chassis = {
            "name": "Chassis",
            "desc": "Nexus9000 C9300v Chassis",
            "productid": "N9K-C9300v",
            "vendorid": "V02",
            "serialnum": self.serial,
        }
        slot = {"name": "Slot 1", "desc": "Nexus 9000v 64 port Ethernet Module", "productid": "N9K-X9364v"}
        return {"TABLE_inv": {"ROW_inv": [chassis, {**slot, "vendorid": "V02", "serialnum": self.serial}]}}

    def show_interface(self) -> dict[str, Any]:
        rows = []
        for iface in nx.interfaces(self.device.tree):
            mac = hashlib.sha256(iface.name.encode()).hexdigest()
            row: dict[str, Any] = {
                "interface": iface.name,
                "state": "down" if iface.shutdown else "up",
                "admin_state": "down" if iface.shutdown else "up",
                "eth_hw_desc": "100/1000/10000 Ethernet",
                "eth_hw_addr": f"5254.{mac[:4]}.{mac[4:8]}",
                "eth_bia_addr": f"5254.{mac[:4]}.{mac[4:8]}",
                "eth_mtu": "1500",
                "eth_bw": 1000000,
                "eth_mode": "routed",
                "eth_link_flapped": "00:10:21",
            }
            if iface.shutdown:
                row["state_rsn_desc"] = "Administratively down"
            if iface.description:
                row["desc"] = iface.description
            if iface.addresses:
                row["eth_ip_addr"] = str(iface.addresses[0].ip)
                row["eth_ip_mask"] = iface.addresses[0].network.prefixlen
            rows.append(row)
        return {"TABLE_interface": {"ROW_interface": _rows(rows)}}

    def show_bgp_summary(self) -> dict[str, Any]:
        bgp = nx.bgp(self.device.tree)
        if bgp is None:
            raise CliError(INVALID)
        up_since = self.device.up_since()
        neighbors = []
        for nbr in bgp.neighbors:
            up = nbr.address in up_since
            state = "Shutdown" if nbr.shutdown else "Established" if up else "Active"
            secs = int(time.time() - up_since[nbr.address]) if up else 0
            neighbors.append(
                {
                    "neighborid": nbr.address,
                    "neighborversion": "4",
                    "msgrecvd": 12 if up else 0,
                    "msgsent": 11 if up else 0,
                    "neighbortableversion": "3" if up else "0",
                    "inq": "0",
                    "outq": "0",
                    "neighboras": str(nbr.remote_as),
                    "time": f"{secs // 3600:02d}:{secs % 3600 // 60:02d}:{secs % 60:02d}" if up else "never",
                    "state": state,
                    "prefixreceived": "1" if up else "0",
                }
            )
        saf: dict[str, Any] = {"safi": 1, "af-name": "IPv4 Unicast", "tableversion": "3"}
        if neighbors:
            saf["TABLE_neighbor"] = {"ROW_neighbor": _rows(neighbors)}
        vrf = {
            "vrf-name-out": "default",
            "vrf-router-id": bgp.router_id or ".".join("0" * 4),
            "vrf-local-as": str(bgp.asn),
            "TABLE_af": {"ROW_af": {"af-id": 1, "TABLE_saf": {"ROW_saf": saf}}},
        }
        return {"TABLE_vrf": {"ROW_vrf": vrf}}


class NxosShell:
    """The SSH session netmiko's ``cisco_nxos`` driver opens for the SCP transfer (prompt ``r1#``)."""

    def __init__(self, device: NxosDouble) -> None:
        self.device = device

    def greeting(self) -> str:
        return f"\nCisco NX-OS Software\n{self.prompt()}"

    def prompt(self) -> str:
        return f"{self.device.name}#"

    def handle(self, line: str) -> str | None:
        command = " ".join(line.split())
        if not command:
            return ""
        with self.device.lock:
            self.device.log.append(f"ssh: {command}")
            if command in ("exit", "logout"):
                return None
            if command.startswith("terminal ") or command == "enable":
                return ""
            if command == "dir" or command.startswith("dir "):
                return self.device.dir(command[4:].strip())
            words = command.split()
            if len(words) == 4 and words[:2] == ["show", "file"] and words[3] == "md5sum":
                return self.device.md5(words[2])
            return INVALID.rstrip()
