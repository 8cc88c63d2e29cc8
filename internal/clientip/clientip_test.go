package clientip

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/secaudit/secaudit/internal/testsupport"
)

type vector struct {
	ID string `json:"id"`
	In struct {
		RemoteAddr *string  `json:"remote_addr"`
		XFF        *string  `json:"xff"`
		CIDRs      []string `json:"cidrs"`
		Count      int      `json:"count"`
	} `json:"in"`
	Expect struct {
		IP           *string `json:"ip"`
		TrustedRoute bool    `json:"trusted_route"`
		Error        string  `json:"error"`
	} `json:"expect"`
}

func parsePrefixes(ss []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range ss {
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, err
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// TestReferenceVectors runs every IP vector of the reference. The peer is
// given verbatim as RemoteAddr (a bare address has no port, which PeerHost
// accepts). Adapted: IP-07 ("8.8.8.8:1234") — the reference rejects a
// host:port REMOTE_ADDR, but Go's RemoteAddr is host:port by contract, so
// the peer is 8.8.8.8 here. IP-33's invalid CIDR is a parse error before
// New (the instrumentation package tests the message).
func TestReferenceVectors(t *testing.T) {
	adapted := map[string]string{"IP-07": "8.8.8.8"}
	for _, v := range testsupport.Vectors[vector](t, "IP") {
		t.Run(v.ID, func(t *testing.T) {
			prefixes, perr := parsePrefixes(v.In.CIDRs)
			if v.Expect.Error != "" {
				if perr != nil {
					return // IP-33: the CIDR does not parse
				}
				if _, err := New(prefixes, v.In.Count); !errors.Is(err, ErrConfig) {
					t.Fatalf("New error = %v, want ErrConfig", err)
				}
				return
			}
			if perr != nil {
				t.Fatal(perr)
			}
			r, err := New(prefixes, v.In.Count)
			if err != nil {
				t.Fatal(err)
			}
			remote := ""
			if v.In.RemoteAddr != nil {
				remote = *v.In.RemoteAddr
			}
			var xff []string
			if v.In.XFF != nil {
				xff = []string{*v.In.XFF}
			}
			want := *v.Expect.IP
			wantForwarded := v.Expect.TrustedRoute
			if a, ok := adapted[v.ID]; ok {
				want = a
			}
			got := r.Resolve(remote, xff)
			if got.Client != want || got.Forwarded != wantForwarded || (want != "" && got.Addr.String() != want) {
				t.Fatalf("Resolve(%q, %q) = %+v, want client %q forwarded %v", remote, xff, got, want, wantForwarded)
			}
			// The same vector with a port on the peer, as net/http sets it.
			if a, err := netip.ParseAddr(remote); err == nil {
				withPort := netip.AddrPortFrom(a, 4321).String()
				if got2 := r.Resolve(withPort, xff); got2 != got {
					t.Fatalf("with port %q: %+v, want %+v", withPort, got2, got)
				}
			}
		})
	}
}

func TestResolveAdversarial(t *testing.T) {
	ten, _ := New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, 1)
	two, _ := New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}, 2)
	v6, _ := New([]netip.Prefix{netip.MustParsePrefix("fe80::/10")}, 1)
	mapped, _ := New([]netip.Prefix{netip.MustParsePrefix("::ffff:10.0.0.0/104")}, 1)
	tests := []struct {
		name   string
		r      *Resolver
		remote string
		xff    []string
		want   Result
	}{
		{"no config ignores XFF", &Resolver{}, "203.0.113.9:1", []string{"1.2.3.4"}, Result{Client: "203.0.113.9", Peer: "203.0.113.9"}},
		{"nil resolver", nil, "203.0.113.9:1", []string{"1.2.3.4"}, Result{Client: "203.0.113.9", Peer: "203.0.113.9"}},
		{"spoofed leftmost ignored", ten, "10.0.0.1:1", []string{"6.6.6.6, 7.7.7.7"}, Result{Client: "7.7.7.7", Peer: "10.0.0.1", Forwarded: true}},
		{"multiple header lines: last line is rightmost", ten, "10.0.0.1:1", []string{"6.6.6.6", "7.7.7.7"}, Result{Client: "7.7.7.7", Peer: "10.0.0.1", Forwarded: true}},
		{"empty last line skipped", ten, "10.0.0.1:1", []string{"7.7.7.7", ""}, Result{Client: "7.7.7.7", Peer: "10.0.0.1", Forwarded: true}},
		{"hop across lines", two, "10.0.0.1:1", []string{"1.1.1.1, 8.8.8.8", "10.9.9.9"}, Result{Client: "8.8.8.8", Peer: "10.0.0.1", Forwarded: true}},
		{"untrusted hop across lines", two, "10.0.0.1:1", []string{"1.1.1.1, 8.8.8.8", "9.9.9.9"}, Result{Client: "10.0.0.1", Peer: "10.0.0.1"}},
		{"only commas", ten, "10.0.0.1:1", []string{" , ,, "}, Result{Client: "10.0.0.1", Peer: "10.0.0.1"}},
		{"host:port entry rejected", ten, "10.0.0.1:1", []string{"8.8.8.8:80"}, Result{Client: "10.0.0.1", Peer: "10.0.0.1"}},
		{"leading zeros rejected", ten, "10.0.0.1:1", []string{"010.0.0.1"}, Result{Client: "10.0.0.1", Peer: "10.0.0.1"}},
		{"v6 canonicalised", ten, "10.0.0.1:1", []string{"2001:0DB8::0001"}, Result{Client: "2001:db8::1", Peer: "10.0.0.1", Forwarded: true}},
		{"zone dropped from client", ten, "10.0.0.1:1", []string{"fe80::1%eth0"}, Result{Client: "fe80::1", Peer: "10.0.0.1", Forwarded: true}},
		{"zoned peer matches its network", v6, "[fe80::2%eth0]:1", []string{"2001:db8::5"}, Result{Client: "2001:db8::5", Peer: "fe80::2", Forwarded: true}},
		// IPv4-mapped IPv6 is its IPv4 address: written unmapped, and
		// compared unmapped with the trusted networks.
		{"v4-mapped client unmapped", ten, "10.0.0.1:1", []string{"::ffff:203.0.113.7"}, Result{Client: "203.0.113.7", Peer: "10.0.0.1", Forwarded: true}},
		{"v4-mapped client, upper case, unmapped", ten, "10.0.0.1:1", []string{"::FFFF:203.0.113.7"}, Result{Client: "203.0.113.7", Peer: "10.0.0.1", Forwarded: true}},
		{"v4-mapped client in hex unmapped", ten, "10.0.0.1:1", []string{"::ffff:cb00:7107"}, Result{Client: "203.0.113.7", Peer: "10.0.0.1", Forwarded: true}},
		{"v4-mapped zoned client unmapped", ten, "10.0.0.1:1", []string{"::ffff:203.0.113.7%eth0"}, Result{Client: "203.0.113.7", Peer: "10.0.0.1", Forwarded: true}},
		{"v4-mapped untrusted peer unmapped", &Resolver{}, "[::ffff:203.0.113.7]:1", []string{"8.8.8.8"}, Result{Client: "203.0.113.7", Peer: "203.0.113.7"}},
		{"v4-mapped peer matches its v4 network", ten, "[::ffff:10.0.0.1]:1", []string{"8.8.8.8"}, Result{Client: "8.8.8.8", Peer: "10.0.0.1", Forwarded: true}},
		{"v4-mapped hop matches its v4 network", two, "10.0.0.1:1", []string{"8.8.8.8, ::ffff:10.0.0.2"}, Result{Client: "8.8.8.8", Peer: "10.0.0.1", Forwarded: true}},
		{"v4-mapped network matches v4 peer", mapped, "10.0.0.1:1", []string{"8.8.8.8"}, Result{Client: "8.8.8.8", Peer: "10.0.0.1", Forwarded: true}},
		{"v4-mapped hop outside the networks", two, "10.0.0.1:1", []string{"8.8.8.8, ::ffff:11.0.0.2"}, Result{Client: "10.0.0.1", Peer: "10.0.0.1"}},
		{"v6 that only ends like v4 stays v6", ten, "10.0.0.1:1", []string{"::203.0.113.7"}, Result{Client: "::cb00:7107", Peer: "10.0.0.1", Forwarded: true}},
		{"bracketed v6 peer with port", ten, "[2001:db8::1]:443", nil, Result{Client: "2001:db8::1", Peer: "2001:db8::1"}},
		{"unparsable peer kept raw as peer only", ten, "not-an-ip", []string{"8.8.8.8"}, Result{Peer: "not-an-ip"}},
		{"CR/LF in entry rejected", ten, "10.0.0.1:1", []string{"8.8.8.8\r\nX: y"}, Result{Client: "10.0.0.1", Peer: "10.0.0.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want // Addr is Client parsed
			if want.Client != "" {
				want.Addr = netip.MustParseAddr(want.Client)
			}
			if got := tt.r.Resolve(tt.remote, tt.xff); got != want {
				t.Fatalf("got %+v, want %+v", got, want)
			}
		})
	}
}

func TestNewValidates(t *testing.T) {
	p := []netip.Prefix{netip.MustParsePrefix("10.1.2.3/8")}
	tests := []struct {
		name    string
		give    []netip.Prefix
		count   int
		wantErr bool
	}{
		{"none", nil, 0, false},
		{"both", p, 1, false},
		{"count only", nil, 1, true},
		{"networks only", p, 0, true},
		{"negative count", p, -1, true},
		{"invalid prefix", []netip.Prefix{{}}, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.give, tt.count)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrConfig) {
				t.Fatalf("err %v does not wrap ErrConfig", err)
			}
		})
	}
	r, _ := New(p, 1)
	if got := r.Resolve("10.200.0.1:1", []string{"8.8.8.8"}); got.Client != "8.8.8.8" {
		t.Fatalf("host bits not masked: %+v", got)
	}
}

func TestResolveAllocatesOnlyTheResult(t *testing.T) {
	if testsupport.Race {
		t.Skip("allocation counts differ under -race")
	}
	r, _ := New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, 2)
	xff := []string{"1.1.1.1, 8.8.8.8, 10.0.0.2"}
	allocs := testing.AllocsPerRun(100, func() {
		if r.Resolve("10.0.0.3:1", xff).Client != "8.8.8.8" {
			panic("wrong")
		}
	})
	if allocs != 0 {
		t.Fatalf("Resolve allocates %v times for canonical input, want 0", allocs)
	}
}

// BenchmarkResolveHugeHeader bounds the cost of an attacker-sized header:
// only the N rightmost entries are looked at.
func BenchmarkResolveHugeHeader(b *testing.B) {
	r, _ := New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, 2)
	for _, n := range []int{1, 100, 10000} {
		xff := []string{strings.Repeat("6.6.6.6, ", n) + "8.8.8.8, 10.0.0.2"}
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r.Resolve("10.0.0.3:1", xff)
			}
		})
	}
}

// FuzzResolve: whatever the peer and header, the client is empty or a
// canonical address, it is the peer unless it came through trusted proxies,
// and it never carries a zone.
func FuzzResolve(f *testing.F) {
	f.Add("10.0.0.1:1", "1.1.1.1, 8.8.8.8, 10.0.0.2")
	f.Add("[fe80::1%eth0]:1", "fe80::2%x, ,,")
	f.Add("bogus", "8.8.8.8")
	f.Add("[::ffff:10.0.0.1]:1", "::ffff:203.0.113.7, ::ffff:10.0.0.2")
	r, _ := New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fe80::/10")}, 2)
	f.Fuzz(func(t *testing.T, remote, xff string) {
		got := r.Resolve(remote, []string{xff})
		if got.Client != "" {
			a, err := netip.ParseAddr(got.Client)
			if err != nil || a.String() != got.Client || a.Zone() != "" || a.Is4In6() {
				t.Fatalf("client %q is not a canonical, zoneless, unmapped address", got.Client)
			}
			if got.Addr != a {
				t.Fatalf("Addr %v, want client %q parsed", got.Addr, got.Client)
			}
		} else if got.Addr.IsValid() {
			t.Fatalf("Addr %v without a client", got.Addr)
		}
		if !got.Forwarded && got.Client != "" && got.Client != got.Peer {
			t.Fatalf("client %q without forwarding differs from peer %q", got.Client, got.Peer)
		}
		if got.Forwarded && !strings.Contains(xff, ",") {
			t.Fatalf("count 2 satisfied by a header without two entries: %q -> %+v", xff, got)
		}
	})
}

// TestPeer4MatchesGeneralPath: the one-pass IPv4 parse gives exactly the
// general path's Result wherever it accepts its input, and accepts the
// common socket peer.
func TestPeer4MatchesGeneralPath(t *testing.T) {
	tests := []struct {
		remote string
		fast   bool // peer4 is expected to take it
	}{
		{"203.0.113.9:52100", true},
		{"127.0.0.1:1", true},
		{"0.0.0.0:0", true},
		{"255.255.255.255:65535", true},
		{"1.2.3.4:", true},
		{"1.2.3.4", false},
		{"01.2.3.4:1", false},
		{"1.2.3.00:1", false},
		{"256.1.1.1:1", false},
		{"1.2.3:1", false},
		{"1.2.3.4.5:1", false},
		{"1..3.4:1", false},
		{".1.2.3:1", false},
		{"1.2.3.4:1:2", false},
		{"1.2.3.4:[1]", false},
		{"1.2.3.4:]", false},
		{"1.2.3.4:x", false},
		{"1.2.3.1000:1", false},
		{"[::1]:1", false},
		{"[::ffff:1.2.3.4]:1", false},
		{"fe80::1%eth0", false},
		{"", false},
		{"bogus", false},
	}
	for _, tt := range tests {
		t.Run(tt.remote, func(t *testing.T) {
			got, ok := peer4(tt.remote)
			if ok != tt.fast {
				t.Fatalf("peer4(%q) ok = %v, want %v", tt.remote, ok, tt.fast)
			}
			if ok && got != peer(tt.remote) {
				t.Fatalf("peer4(%q) = %+v, general path %+v", tt.remote, got, peer(tt.remote))
			}
		})
	}
}

// FuzzPeer4: wherever the one-pass parse accepts a peer, its Result is
// the general path's.
func FuzzPeer4(f *testing.F) {
	for _, s := range []string{"203.0.113.9:52100", "1.2.3.4:", "01.2.3.4:1", "1.2.3.4:]", "[::1]:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, remote string) {
		if got, ok := peer4(remote); ok && got != peer(remote) {
			t.Fatalf("peer4(%q) = %+v, general path %+v", remote, got, peer(remote))
		}
	})
}

// BenchmarkResolvePeer: the common origin, an IPv4 socket peer and no
// trusted proxy (peer4's one pass).
func BenchmarkResolvePeer(b *testing.B) {
	var r *Resolver
	b.ReportAllocs()
	for b.Loop() {
		if res := r.Resolve("203.0.113.9:52100", nil); res.Client == "" {
			b.Fatal("no client")
		}
	}
}
