package auditgorm_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/glebarez/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/instrumentation/gorm/auditgorm"
	"github.com/secaudit/secaudit/internal/testsupport"
)

// TestIgnoreTables: an empty table name is refused when the plugin is
// registered (db.Use returns the error, in the project's format); a named
// table's statements give no event, others still do.
func TestIgnoreTables(t *testing.T) {
	capture := &testsupport.Capture{}
	lp := testsupport.NewProvider(capture)
	defer lp.Shutdown(context.Background())
	a, _ := secaudit.New(secaudit.WithLoggerProvider(lp), secaudit.WithoutEnv())

	open := func() *gorm.DB {
		db, err := gorm.Open(sqlite.Open(filepath.Join(t.TempDir(), "ignore.db")), &gorm.Config{Logger: logger.Discard})
		if err != nil {
			t.Fatal(err)
		}
		sqlDB, _ := db.DB()
		t.Cleanup(func() { _ = sqlDB.Close() })
		return db
	}
	err := open().Use(auditgorm.New(a, auditgorm.WithIgnoreTables("sessions", "")))
	if want := `secaudit: WithIgnoreTables(""): want table names`; err == nil || err.Error() != want {
		t.Fatalf("db.Use: %v, want %q", err, want)
	}

	db := open()
	type session struct{ ID uint }
	if err := db.AutoMigrate(&account{}, &session{}); err != nil {
		t.Fatal(err)
	}
	if err := db.Use(auditgorm.New(a, auditgorm.WithIgnoreTables("sessions"))); err != nil {
		t.Fatal(err)
	}
	if err := db.Create(&session{}).Error; err != nil {
		t.Fatal(err)
	}
	if n := capture.Len(); n != 0 {
		t.Fatalf("%d events for an ignored table", n)
	}
	if err := db.Create(&account{OwnerID: "7"}).Error; err != nil {
		t.Fatal(err)
	}
	if r := capture.Only(t); r.EventName() != "model.create" {
		t.Fatalf("event %s", r.EventName())
	}
}
