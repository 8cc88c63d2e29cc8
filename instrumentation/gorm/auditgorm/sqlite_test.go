package auditgorm_test

import (
	"path/filepath"
	"testing"

	"github.com/glebarez/sqlite"
)

// TestSQLite runs the cases on a real SQLite database (a pure-Go driver,
// a file in the test's temporary directory).
func TestSQLite(t *testing.T) {
	runCases(t, sqlite.Open(filepath.Join(t.TempDir(), "audit.db")))
}
