// Package interop holds featherip's integration tests against the Linux
// kernel and standard tools (ping, arping, socat, tshark): each test makes
// its own network namespace, a TAP device inside it with the kernel at
// 192.168.7.1/24, and runs featherip at 192.168.7.2/24 on the device.
//
// The tests need root (for the namespace and /dev/net/tun) and skip with a
// message naming what is missing otherwise. Run them with
//
//	sudo go test ./interop/
//
// after installing the tools: apt-get install -y iproute2 iputils-ping
// arping socat tshark.
package interop
