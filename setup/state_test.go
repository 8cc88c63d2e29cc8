package setup_test

import (
	"context"
	"testing"

	"github.com/secaudit/secaudit/setup"
)

// TestStateRedisNeedsImport: SECAUDIT_STATE=redis://… in an application
// that does not import detect/redisstate stops start-up with the one error
// format, naming the variable and the import to add (and hiding the
// password); "memory" is the default store.
func TestStateRedisNeedsImport(t *testing.T) {
	clearEnv(t)
	t.Setenv("SECAUDIT_STATE", "redis://:pw@127.0.0.1:6379/0")
	p, err := setup.New(context.Background(), setup.WithExporters("none"))
	if err == nil {
		_ = p.Shutdown(context.Background())
		t.Fatal("no error")
	}
	want := `secaudit: SECAUDIT_STATE="redis://:xxxxx@127.0.0.1:6379/0": want "memory", or add import _ "github.com/secaudit/secaudit/detect/redisstate" to the application so that redis:// URLs open`
	if err.Error() != want {
		t.Fatalf("error:\n%s\nwant\n%s", err, want)
	}
	t.Setenv("SECAUDIT_STATE", "memory")
	p, err = setup.New(context.Background(), setup.WithExporters("none"))
	if err != nil {
		t.Fatal(err)
	}
	_ = p.Shutdown(context.Background())
}
