package auditgorm_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/glebarez/sqlite"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/instrumentation/gorm/auditgorm"
	"github.com/secaudit/secaudit/internal/testsupport"
)

// discard is an sdk/log processor that drops every record: the cost of the
// pipeline up to the exporter, without an exporter.
type discard struct{}

func (discard) OnEmit(context.Context, *sdklog.Record) error { return nil }
func (discard) Enabled(context.Context, sdklog.EnabledParameters) bool {
	return true
}
func (discard) Shutdown(context.Context) error   { return nil }
func (discard) ForceFlush(context.Context) error { return nil }

// BenchmarkStatement: one GORM create, and one update by map, on SQLite
// (a file, synchronous=OFF) without the plugin and with it (the record
// built by the SDK and discarded). Compare with benchstat -col /plugin.
func BenchmarkStatement(b *testing.B) {
	for _, audited := range []bool{false, true} {
		name := "plugin=none"
		if audited {
			name = "plugin=audit"
		}
		for _, op := range []string{"create", "update"} {
			b.Run(name+"/op="+op, func(b *testing.B) {
				db, err := gorm.Open(sqlite.Open(filepath.Join(b.TempDir(), "bench.db")), &gorm.Config{Logger: logger.Discard})
				if err != nil {
					b.Fatal(err)
				}
				sqlDB, _ := db.DB()
				defer sqlDB.Close()
				sqlDB.SetMaxOpenConns(1)
				db.Exec("PRAGMA synchronous=OFF")
				if err := db.AutoMigrate(&account{}); err != nil {
					b.Fatal(err)
				}
				if audited {
					lp := testsupport.NewProvider(discard{})
					defer lp.Shutdown(context.Background())
					a, _ := secaudit.New(secaudit.WithLoggerProvider(lp), secaudit.WithoutEnv())
					if err := db.Use(auditgorm.New(a)); err != nil {
						b.Fatal(err)
					}
				}
				req := &secaudit.Request{ID: "0123456789abcdef0123456789abcdef"}
				req.SetUser(secaudit.User{ID: "7"})
				tx := db.WithContext(secaudit.ContextWithRequest(context.Background(), req))
				acct := account{OwnerID: "7", Nickname: "n", Email: "e", Password: "p"}
				if err := tx.Create(&acct).Error; err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					if op == "update" {
						err = tx.Model(&acct).Updates(map[string]any{"nickname": i}).Error
					} else {
						err = tx.Create(&account{OwnerID: "7", Nickname: "n", Email: "e", Password: "p"}).Error
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestPluginAllocs locks the allocations the plugin adds to a statement
// that a real pipeline records (records built by the SDK and discarded),
// measured against GORM on SQLite without it. A create: the event (the
// record's attributes growing in the Logs API and the SDK, the SDK's
// record) and the id's text: 6, and GORM with SQLite alone differs by one
// between runs, hence 7. An update by map: the same plus the SET clause's
// column names and the statement setting that marks the clause as the
// plugin's: 10.
func TestPluginAllocs(t *testing.T) {
	if testsupport.Race {
		t.Skip("the race detector changes allocation counts")
	}
	tests := []struct {
		op     string
		budget float64
	}{{"create", 7}, {"update", 10}}
	for _, tt := range tests {
		t.Run(tt.op, func(t *testing.T) {
			run := func(audited bool) float64 {
				db, err := gorm.Open(sqlite.Open(filepath.Join(t.TempDir(), "allocs.db")), &gorm.Config{Logger: logger.Discard})
				if err != nil {
					t.Fatal(err)
				}
				sqlDB, _ := db.DB()
				defer sqlDB.Close()
				sqlDB.SetMaxOpenConns(1)
				db.Exec("PRAGMA synchronous=OFF")
				if err := db.AutoMigrate(&account{}); err != nil {
					t.Fatal(err)
				}
				if audited {
					lp := testsupport.NewProvider(discard{})
					defer lp.Shutdown(context.Background())
					a, _ := secaudit.New(secaudit.WithLoggerProvider(lp), secaudit.WithoutEnv())
					if err := db.Use(auditgorm.New(a)); err != nil {
						t.Fatal(err)
					}
				}
				req := &secaudit.Request{ID: "0123456789abcdef0123456789abcdef"}
				req.SetUser(secaudit.User{ID: "7"})
				tx := db.WithContext(secaudit.ContextWithRequest(context.Background(), req))
				acct := account{OwnerID: "7", Nickname: "n"}
				if err := tx.Create(&acct).Error; err != nil {
					t.Fatal(err)
				}
				i := 0
				return testing.AllocsPerRun(100, func() {
					i++
					var err error
					if tt.op == "update" {
						err = tx.Model(&acct).Updates(map[string]any{"nickname": i}).Error
					} else {
						err = tx.Create(&account{OwnerID: "7", Nickname: "n"}).Error
					}
					if err != nil {
						t.Fatal(err)
					}
				})
			}
			got := run(true) - run(false)
			t.Logf("%.0f allocations per %s over GORM alone", got, tt.op)
			if got > tt.budget {
				t.Errorf("%.0f allocations per %s, budget %.0f", got, tt.op, tt.budget)
			}
		})
	}
}
