package featherip

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/net/nettest"
)

// TestTCPNettestConn runs golang.org/x/net/nettest's conformance suite
// for net.Conn over two in-process featherip hosts.
func TestTCPNettestConn(t *testing.T) {
	nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
		ea, eb := pipeEnds()
		a, err := New(tcpTestConfig())
		if err != nil {
			return nil, nil, nil, err
		}
		b, err := New(tcpTestConfig())
		if err != nil {
			a.Close()
			return nil, nil, nil, err
		}
		stop = func() {
			if c1 != nil {
				c1.Close()
			}
			if c2 != nil {
				c2.Close()
			}
			a.Close()
			b.Close()
		}
		if _, err = a.AddInterface(ea, InterfaceConfig{Addrs: []netip.Prefix{addrA}}); err != nil {
			stop()
			return nil, nil, nil, err
		}
		if _, err = b.AddInterface(eb, InterfaceConfig{Addrs: []netip.Prefix{addrB}}); err != nil {
			stop()
			return nil, nil, nil, err
		}
		ln, err := b.Listen("tcp", ":0")
		if err != nil {
			stop()
			return nil, nil, nil, err
		}
		defer ln.Close()
		acc := make(chan net.Conn, 1)
		go func() {
			c, _ := ln.Accept()
			acc <- c
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		port := ln.Addr().(*net.TCPAddr).Port
		c1, err = a.DialContext(ctx, "tcp", netip.AddrPortFrom(addrB.Addr(), uint16(port)).String())
		if err != nil {
			stop()
			return nil, nil, nil, err
		}
		c2 = <-acc
		if c2 == nil {
			stop()
			return nil, nil, nil, net.ErrClosed
		}
		return c1, c2, stop, nil
	})
}
