// Package clientip resolves the client address of an HTTP request from the
// socket peer and X-Forwarded-For, trusting only configured proxies.
//
// The threat model: any client can send X-Forwarded-For, and a proxy appends
// the address it saw to whatever the client sent. Only the entries appended
// by proxies the operator trusts are facts, so the header is read from the
// right. With N trusted proxies in front of the service (N = the configured
// count, the socket peer being the first of them), the client is the N-th
// entry from the right, and every hop between — the peer and the N-1
// rightmost entries — must be an address inside a trusted network. Anything
// else (no configuration, an untrusted peer, too few entries, an unparsable
// or untrusted hop, an unparsable candidate) falls back to the peer: the
// resolver never asserts an address it cannot verify, and the leftmost entry,
// which the client controls, is never taken unless exactly N entries exist
// and all hops check out.
//
// Addresses follow Python's ipaddress rules the reference used, which match
// [netip.ParseAddr]: no surrounding space in the peer (header entries are
// trimmed), no leading zeros in IPv4, no host:port or [v6] forms in header
// entries; IPv6 is canonicalised. Unlike the reference, IPv6 zone ids are
// dropped from the result (and ignored when matching networks), and an
// IPv4-mapped IPv6 address (::ffff:203.0.113.7) is its IPv4 address: it is
// written unmapped, so one client has one address, and matched unmapped
// against the trusted networks (a mapped network, ::ffff:10.0.0.0/104, is
// its IPv4 network). Only X-Forwarded-For is consulted,
// never Forwarded or X-Real-IP.
//
// A [Resolver] is immutable and safe for concurrent use; resolving allocates
// only when an address's text is not already canonical.
package clientip
