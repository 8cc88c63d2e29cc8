package setup_test

import (
	"context"
	"strings"
	"testing"

	"github.com/secaudit/secaudit/setup"
)

// TestErrorsDoNotStutter: a start-up error names the setting once and
// repeats neither a package prefix nor the file's path.
func TestErrorsDoNotStutter(t *testing.T) {
	missing := t.TempDir() + "/no/such/dir/events.jsonl"
	tests := []struct {
		name string
		env  map[string]string
		want string // the whole message
	}{
		{
			name: "file cannot be opened",
			env:  map[string]string{"SECAUDIT_JSONL_PATH": missing},
			want: "setup: SECAUDIT_JSONL_PATH: open " + missing + ": no such file or directory",
		},
		{
			name: "bad delivery setting",
			env:  map[string]string{"SECAUDIT_DELIVERY_QUEUE_SIZE": "0"},
			want: `setup: jsonl exporter: delivery: invalid SECAUDIT_DELIVERY_QUEUE_SIZE="0": want an integer >= 1`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			p, err := setup.New(context.Background())
			if err == nil {
				_ = p.Shutdown(context.Background())
				t.Fatal("no error")
			}
			if err.Error() != tt.want {
				t.Errorf("error\n %q\nwant\n %q", err, tt.want)
			}
			for _, word := range []string{"setup:", "delivery:", "exporter:", missing} {
				if strings.Count(err.Error(), word) > 1 {
					t.Errorf("%q appears more than once in %q", word, err)
				}
			}
		})
	}
}
