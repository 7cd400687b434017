package interop

import "os"

// vnetOn reports whether the interop tests open their TAP devices with a
// virtio-net header and offloads (checksums, TSO, GRO): on unless
// FIP_INTEROP_VNET=0. Tests that wrap the link in a pcap capture keep it
// off, because the wrapper is a plain link.Link and hides the offloads.
func vnetOn() bool { return os.Getenv("FIP_INTEROP_VNET") != "0" }
