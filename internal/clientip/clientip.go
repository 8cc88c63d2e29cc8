package clientip

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// HeaderXForwardedFor is the only header consulted.
const HeaderXForwardedFor = "X-Forwarded-For"

// Resolver resolves client addresses. The zero value (and a nil *Resolver)
// trusts no proxy: the client is the peer.
type Resolver struct {
	trusted []netip.Prefix
	count   int
}

// ErrConfig is wrapped by New's errors.
var ErrConfig = errors.New("clientip: invalid trusted proxy configuration")

// New returns a Resolver that trusts count proxies inside the given
// networks. Both empty/zero means no proxy is trusted. One without the other,
// a count below 1 with networks, or a network of no family is an error.
func New(trusted []netip.Prefix, count int) (*Resolver, error) {
	switch {
	case len(trusted) == 0 && count == 0:
		return &Resolver{}, nil
	case len(trusted) == 0 || count == 0:
		return nil, fmt.Errorf("%w: trusted proxy networks and count must be configured together", ErrConfig)
	case count < 1:
		return nil, fmt.Errorf("%w: trusted proxy count %d, want >= 1", ErrConfig, count)
	}
	out := make([]netip.Prefix, len(trusted))
	for i, p := range trusted {
		if !p.IsValid() {
			return nil, fmt.Errorf("%w: invalid network %q", ErrConfig, p.String())
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			// ::ffff:10.0.0.0/104 is 10.0.0.0/8: addresses are compared
			// unmapped.
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		out[i] = p.Masked()
	}
	return &Resolver{trusted: out, count: count}, nil
}

// Result is a resolved request origin. Empty strings mean unknown.
// Addresses are compared and written unmapped: an IPv4-mapped IPv6 address
// (::ffff:203.0.113.7) is its IPv4 address, so one client has one address
// whichever way a proxy or socket wrote it.
type Result struct {
	// Client is the client address (canonical text, zone dropped).
	Client string
	// Addr is Client parsed (unmapped, no zone); the zero Addr when
	// Client is empty.
	Addr netip.Addr
	// Peer is the socket peer's address: canonical when it parses, else
	// the peer text as the server reported it.
	Peer string
	// Forwarded reports whether Client came from X-Forwarded-For through
	// trusted proxies (the reference's trusted_route; never emitted).
	Forwarded bool
}

// PeerHost returns the host part of an http.Request.RemoteAddr: the address
// of "host:port" or "[v6]:port", or remoteAddr itself when it has no port.
func PeerHost(remoteAddr string) string {
	if host, _, err := net.SplitHostPort(remoteAddr); err == nil {
		return host
	}
	return remoteAddr
}

// Resolve returns the origin of a request whose socket peer is
// remoteAddr (http.Request.RemoteAddr: "host:port", or a bare address) and
// whose X-Forwarded-For header lines are xff, in order.
func (r *Resolver) Resolve(remoteAddr string, xff []string) Result {
	res, ok := peer4(remoteAddr)
	if !ok {
		res = peer(remoteAddr)
	}
	if !res.Addr.IsValid() || r == nil || r.count == 0 || !r.isTrusted(res.Addr) {
		return res
	}
	peerText := res.Peer
	// Walk the entries right to left across all header lines (a later
	// line holds later hops), skipping empty items.
	need := r.count // entries to consume: N-1 hops, then the candidate
	line := len(xff) - 1
	rest := ""
	if line >= 0 {
		rest = xff[line]
	}
	for need > 0 {
		var item string
		for {
			for rest == "" && line > 0 {
				line--
				rest = xff[line]
			}
			if rest == "" {
				return res // fewer than N entries
			}
			if i := strings.LastIndexByte(rest, ','); i >= 0 {
				item, rest = rest[i+1:], rest[:i]
			} else {
				item, rest = rest, ""
			}
			if item = strings.TrimSpace(item); item != "" {
				break
			}
		}
		addr, err := netip.ParseAddr(item)
		if err != nil {
			return res
		}
		need--
		if need == 0 {
			return Result{Client: canonical(addr, item), Addr: addr.WithZone("").Unmap(), Peer: peerText, Forwarded: true}
		}
		if !r.isTrusted(addr) {
			return res
		}
	}
	return res
}

// peer is the origin of a request from remoteAddr alone, in any form.
func peer(remoteAddr string) Result {
	host := PeerHost(remoteAddr)
	a, err := netip.ParseAddr(host)
	if err != nil {
		return Result{Peer: host}
	}
	text := canonical(a, host)
	return Result{Client: text, Addr: a.WithZone("").Unmap(), Peer: text}
}

// TrustsProxies reports whether r reads X-Forwarded-For at all (trusted
// proxies are configured): without them Resolve ignores its xff argument,
// so a caller may skip looking the header up.
func (r *Resolver) TrustsProxies() bool { return r != nil && r.count > 0 }

// peer4 is Resolve's origin for the common socket peer "a.b.c.d:port" (a
// dotted-quad IPv4 address as netip.ParseAddr accepts it, a port of
// digits only), parsed in one pass: the same Result as the general path,
// at a fraction of its cost. ok is false for every other form, which the
// general path (peer) then handles: IPv6, zones, no port, anything invalid.
func peer4(remoteAddr string) (res Result, ok bool) {
	s := remoteAddr
	var ip [4]byte
	i := 0
	for field := range ip {
		if field > 0 {
			if i >= len(s) || s[i] != '.' {
				return Result{}, false
			}
			i++
		}
		// 1–3 digits, at most 255, no leading zero (netip refuses it),
		// unrolled: this runs for every request.
		if i >= len(s) || s[i]-'0' > 9 {
			return Result{}, false
		}
		v := uint(s[i] - '0')
		i++
		if i < len(s) && s[i]-'0' <= 9 {
			if v == 0 {
				return Result{}, false
			}
			v = v*10 + uint(s[i]-'0')
			i++
			if i < len(s) && s[i]-'0' <= 9 {
				v = v*10 + uint(s[i]-'0')
				i++
				if v > 255 || (i < len(s) && s[i]-'0' <= 9) {
					return Result{}, false
				}
			}
		}
		ip[field] = byte(v)
	}
	if i >= len(s) || s[i] != ':' {
		return Result{}, false
	}
	for _, c := range []byte(s[i+1:]) {
		if c-'0' > 9 {
			return Result{}, false
		}
	}
	host := s[:i]
	return Result{Client: host, Addr: netip.AddrFrom4(ip), Peer: host}, true
}

func (r *Resolver) isTrusted(a netip.Addr) bool {
	a = a.WithZone("").Unmap()
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// canonical returns the canonical text of a without its zone, IPv4-mapped
// IPv6 as IPv4, reusing the text it was parsed from when that is already
// canonical (no allocation).
func canonical(a netip.Addr, parsed string) string {
	if a.Is4() {
		// netip accepts IPv4 only as a dotted quad of decimal octets without
		// leading zeros or a zone: the text parsed is the canonical one.
		return parsed
	}
	var buf [64]byte
	b := a.WithZone("").Unmap().AppendTo(buf[:0])
	if string(b) == parsed {
		return parsed
	}
	return string(b)
}
