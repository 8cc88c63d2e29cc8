package delivery

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"

	sdklog "go.opentelemetry.io/otel/sdk/log"
)

// TestErrorCategory: the health report's name for an export error is one
// of a fixed set of phrases, whatever the error says.
func TestErrorCategory(t *testing.T) {
	const endpoint = "http://collector.internal:4318/v1/logs"
	dial := func(errno error) error {
		return &url.Error{Op: "Post", URL: endpoint, Err: &net.OpError{
			Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 4318},
			Err: os.NewSyscallError("connect", errno),
		}}
	}
	tests := []struct {
		give error
		want string
	}{
		{dial(syscall.ECONNREFUSED), "connection refused"},
		{dial(syscall.ECONNRESET), "connection reset"},
		{dial(syscall.EHOSTUNREACH), "network unreachable"},
		{&url.Error{Op: "Post", URL: endpoint, Err: &net.DNSError{Err: "no such host", Name: "collector.internal", IsNotFound: true}}, "dns lookup failed"},
		{&url.Error{Op: "Post", URL: endpoint, Err: context.DeadlineExceeded}, "timeout"},
		{&url.Error{Op: "Post", URL: endpoint, Err: x509.UnknownAuthorityError{}}, "tls error"},
		{&fs.PathError{Op: "write", Path: "/var/log/app/audit.jsonl", Err: syscall.ENOSPC}, "no space left on device"},
		{&fs.PathError{Op: "open", Path: "/var/log/app/audit.jsonl", Err: syscall.EACCES}, "permission denied"},
		{&fs.PathError{Op: "write", Path: "/var/log/app/audit.jsonl", Err: syscall.EIO}, "file error"},
		{fmt.Errorf("failed to send logs to %s: 400 Bad Request (body: 404 Not Found /etc/passwd)", endpoint), "http 400 Bad Request"},
		{errors.New("retry-able request failure: body: upstream connect error to 10.1.2.3:4318"), "http error, retryable (429, 502, 503 or 504)"},
		{errors.New(`rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: dial tcp 10.1.2.3:4317: connect: connection refused"`), "connection refused"},
		{errors.New(`rpc error: code = Unavailable desc = upstream 10.1.2.3:4317 gone`), "unavailable (grpc)"},
		{fmt.Errorf("%w: open /srv/app/secrets.yaml", errExporterPanicked), "exporter panicked"},
		{sdklog.ErrExporterShutdown, "exporter shut down"},
		{errors.New("boom in /srv/app/export.go at db.internal:5432"), "unclassified error"},
	}
	for _, tt := range tests {
		got := errorCategory(tt.give)
		if got != tt.want {
			t.Errorf("errorCategory(%q) = %q, want %q", tt.give, got, tt.want)
		}
		for _, leak := range []string{"collector", "4318", "4317", "/v1/logs", "/var/log", "/etc", "/srv", "10.1.2.3", "db.internal"} {
			if strings.Contains(got, leak) {
				t.Errorf("errorCategory(%q) = %q, quotes %q", tt.give, got, leak)
			}
		}
	}
}
