package instrumentation

import (
	"net/http/httptest"
	"testing"

	"github.com/secaudit/secaudit/semconv"
)

// TestIPv4MappedAddressesUnmapped: one client has one address, whichever
// way a proxy or the socket wrote it: IPv4-mapped IPv6 is logged as IPv4 in
// client.address and network.peer.address, and a mapped proxy address is
// matched against the trusted IPv4 networks.
func TestIPv4MappedAddressesUnmapped(t *testing.T) {
	tests := []struct {
		name       string
		remote     string
		xff        string
		wantClient string
		wantPeer   string
	}{
		{"mapped client in X-Forwarded-For", "10.0.0.1:1234", "::ffff:203.0.113.7", "203.0.113.7", "10.0.0.1"},
		{"mapped proxy peer", "[::ffff:10.0.0.1]:1234", "203.0.113.7", "203.0.113.7", "10.0.0.1"},
		{"both mapped", "[::ffff:10.0.0.1]:1234", "::ffff:203.0.113.7", "203.0.113.7", "10.0.0.1"},
		{"mapped peer without a proxy hop", "[::ffff:198.51.100.4]:1234", "", "198.51.100.4", "198.51.100.4"},
		{"plain IPv6 kept", "[2001:db8::1]:1234", "", "2001:db8::1", "2001:db8::1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, false, WithTrustedProxies([]string{"10.0.0.0/8"}, 1))
			req := httptest.NewRequest("GET", "/missing", nil)
			req.RemoteAddr = tt.remote
			if tt.xff != "" {
				req.Header.Set("X-Forwarded-For", tt.xff)
			}
			h.serve(status(404), req)
			r := h.only()
			if got, _ := str(r, semconv.ClientAddressKey); got != tt.wantClient {
				t.Errorf("client.address = %q, want %q", got, tt.wantClient)
			}
			if got, _ := str(r, semconv.NetworkPeerAddressKey); got != tt.wantPeer {
				t.Errorf("network.peer.address = %q, want %q", got, tt.wantPeer)
			}
		})
	}
}
