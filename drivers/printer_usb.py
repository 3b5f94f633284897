"""USB receipt printers through pyusb - optional: pyusb is not a dependency.

Most store PCs see a USB receipt printer as ``/dev/usb/lp0`` (kind ``file``)
and need none of this. Kind ``usb`` is for printers the kernel's usblp
driver does not claim, and needs ``pip install pyusb`` plus a libusb and a
udev rule giving the agent user access to the device.
"""

from __future__ import annotations

import importlib
from typing import Any

from drivers.errors import DeviceConfigError, PrinterUnavailableError, PrinterUnreachableError
from drivers.printer_transport import _ChannelTransport, _Dropped


def _pyusb() -> tuple[Any, Any]:
    try:
        return importlib.import_module("usb.core"), importlib.import_module("usb.util")
    except ImportError as exc:
        raise PrinterUnavailableError(
            "printer kind 'usb' needs pyusb (pip install pyusb) and libusb; or use kind"
            " 'file' with /dev/usb/lp0"
        ) from exc


class _UsbChannel:
    def __init__(self, dev: Any, out_ep: Any, in_ep: Any, write_timeout_s: float, core: Any):
        self._dev, self._out, self._in = dev, out_ep, in_ep
        self._write_timeout_ms = int(write_timeout_s * 1000)
        self._core = core

    def send(self, data: bytes) -> int:
        try:
            written: int = self._out.write(data, self._write_timeout_ms)  # pyusb is untyped
            return written
        except self._core.USBError as exc:
            raise _Dropped(str(exc)) from exc

    def recv1(self, timeout_s: float) -> int | None:
        if self._in is None:
            return None
        try:
            got = self._in.read(self._in.wMaxPacketSize, int(timeout_s * 1000))
        except self._core.USBTimeoutError:
            return None
        except self._core.USBError as exc:
            raise _Dropped(str(exc)) from exc
        return got[-1] if len(got) else None

    def close(self) -> None:
        importlib.import_module("usb.util").dispose_resources(self._dev)


class UsbTransport(_ChannelTransport):
    def __init__(
        self,
        vendor_id: int,
        product_id: int,
        *,
        write_timeout_s: float = 5.0,
        status_timeout_s: float = 0.5,
        confirm_timeout_s: float = 2.0,
    ):
        self.vendor_id, self.product_id = vendor_id, product_id
        self.where = f"usb {vendor_id:04x}:{product_id:04x}"
        self._write_timeout = write_timeout_s
        self.status_timeout_s = status_timeout_s
        self.confirm_timeout_s = confirm_timeout_s
        _pyusb()  # fail at wiring time, not at the first receipt

    @classmethod
    def from_address(cls, address: str, **options: float) -> UsbTransport:
        vendor, _, product = address.partition(":")
        try:
            return cls(int(vendor, 16), int(product, 16), **options)
        except ValueError:
            raise DeviceConfigError(
                f"usb printer address {address!r}: expected vendor:product in hex, e.g. 04b8:0e15"
            ) from None

    def _open(self) -> _UsbChannel:
        core, util = _pyusb()
        try:
            dev = core.find(idVendor=self.vendor_id, idProduct=self.product_id)
            if dev is None:
                raise PrinterUnreachableError(f"no USB printer {self.where} is plugged in")
            if dev.is_kernel_driver_active(0):
                dev.detach_kernel_driver(0)
            dev.set_configuration()
            intf = dev.get_active_configuration()[(0, 0)]

            def direction(d: int) -> Any:
                return util.find_descriptor(
                    intf, custom_match=lambda e: util.endpoint_direction(e.bEndpointAddress) == d
                )

            out_ep, in_ep = direction(util.ENDPOINT_OUT), direction(util.ENDPOINT_IN)
        except core.USBError as exc:
            raise PrinterUnreachableError(f"cannot open {self.where}: {exc}") from exc
        if out_ep is None:
            raise PrinterUnreachableError(f"{self.where} has no output endpoint")
        return _UsbChannel(dev, out_ep, in_ep, self._write_timeout, core)
