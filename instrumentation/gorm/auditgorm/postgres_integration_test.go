//go:build integration

package auditgorm_test

import (
	"os"
	"testing"

	"gorm.io/driver/postgres"
)

// TestIntegrationPostgres runs the same cases as TestSQLite on a real
// PostgreSQL: .ci/services/postgres starts one on loopback and sets
// SECAUDIT_TEST_POSTGRES_DSN.
func TestIntegrationPostgres(t *testing.T) {
	dsn := os.Getenv("SECAUDIT_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Fatal("SECAUDIT_TEST_POSTGRES_DSN is not set: .ci/services/postgres start prints it")
	}
	runCases(t, postgres.Open(dsn))
}
