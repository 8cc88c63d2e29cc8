package auditgorm_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/instrumentation/gorm/auditgorm"
	"github.com/secaudit/secaudit/internal/testsupport"
	"github.com/secaudit/secaudit/semconv"
)

// account is the test model. Password stands for a column whose values
// must never reach the audit log.
type account struct {
	ID        uint `gorm:"primaryKey"`
	OwnerID   string
	Nickname  string
	Email     string
	Password  string
	Balance   int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

func (account) TableName() string { return "audit_accounts" }

// errRefused is what the hooks return for a row nicknamed "refused": the
// statement succeeded in the database, then GORM rolls its transaction
// back.
var errRefused = errors.New("refused by a hook")

func (a *account) AfterCreate(*gorm.DB) error {
	if a.Nickname == "refused" {
		return errRefused
	}
	return nil
}

func (a *account) AfterUpdate(*gorm.DB) error {
	if a.Nickname == "refused" {
		return errRefused
	}
	return nil
}

// secrets are values the cases write; none may appear in any record.
var secrets = []string{"hunter2-secret", "nick-value", "mail-value", "bulk-value", "second-secret", "4242"}

// openAudited registers the plugin on a session of db that has its own
// capture, after recreating the test table.
func openAudited(t *testing.T, dialector gorm.Dialector) (*gorm.DB, *testsupport.Capture, *auditgorm.Plugin) {
	t.Helper()
	db, err := gorm.Open(dialector, &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sqlDB.Close() })
	if err := db.Migrator().DropTable(&account{}); err != nil {
		t.Fatal(err)
	}
	if err := db.AutoMigrate(&account{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Migrator().DropTable(&account{}) })
	capture := &testsupport.Capture{}
	lp := testsupport.NewProvider(capture)
	t.Cleanup(func() { _ = lp.Shutdown(context.Background()) })
	a, err := secaudit.New(secaudit.WithLoggerProvider(lp), secaudit.WithoutEnv())
	if err != nil {
		t.Fatal(err)
	}
	plugin := auditgorm.New(a)
	if err := db.Use(plugin); err != nil {
		t.Fatal(err)
	}
	return db, capture, plugin
}

// wantEvent is one expected model event.
type wantEvent struct {
	name    string
	id      string   // "" for a bulk event
	changed []string // changed field names, in order
	rows    int64    // bulk events: rows affected
}

// runCases runs the same statements against any database: creates,
// updates by map, struct and column (changed names only), a bulk update, a
// delete by model and by key, a bulk delete, and failed or empty
// statements that emit nothing. Every event carries the acting user from
// the context and no written value.
func runCases(t *testing.T, dialector gorm.Dialector) {
	db, capture, plugin := openAudited(t, dialector)
	req := &secaudit.Request{ID: "0123456789abcdef0123456789abcdef"}
	req.SetUser(secaudit.User{ID: "7"})
	ctx := secaudit.ContextWithRequest(context.Background(), req)
	tx := db.WithContext(ctx)

	alice := account{OwnerID: "7", Nickname: "a", Email: "a@example.test", Password: "hunter2-secret", Balance: 10}
	pair := []account{
		{OwnerID: "7", Nickname: "b", Password: "second-secret"},
		{OwnerID: "7", Nickname: "c", Password: "second-secret"},
	}
	id := func(a account) string { return strconv.FormatUint(uint64(a.ID), 10) }

	tests := []struct {
		name    string
		run     func() error
		wantErr bool
		want    func() []wantEvent
	}{
		{"create", func() error { return tx.Create(&alice).Error }, false,
			func() []wantEvent { return []wantEvent{{name: "model.create", id: id(alice)}} }},
		{"create a batch", func() error { return tx.Create(&pair).Error }, false,
			func() []wantEvent {
				return []wantEvent{{name: "model.create", id: id(pair[0])}, {name: "model.create", id: id(pair[1])}}
			}},
		{"update by map: the keys given", func() error {
			return tx.Model(&alice).Updates(map[string]any{"nickname": "nick-value", "password": "hunter2-secret"}).Error
		}, false, func() []wantEvent {
			return []wantEvent{{name: "model.update", id: id(alice), changed: []string{"nickname", "password"}}}
		}},
		{"update by struct: the non-zero fields set", func() error {
			return tx.Model(&alice).Updates(account{Email: "mail-value"}).Error
		}, false, func() []wantEvent {
			return []wantEvent{{name: "model.update", id: id(alice), changed: []string{"email"}}}
		}},
		{"update one column by key condition", func() error {
			return tx.Model(&account{}).Where("id = ?", alice.ID).Update("balance", 4242).Error
		}, false, func() []wantEvent {
			// A raw SQL condition names no key the plugin can trust.
			return []wantEvent{{name: "model.update", changed: []string{"balance"}, rows: 1}}
		}},
		{"update by primary key map condition", func() error {
			return tx.Model(&account{}).Where(map[string]any{"id": pair[0].ID}).Update("nickname", "nick-value").Error
		}, false, func() []wantEvent {
			return []wantEvent{{name: "model.update", id: id(pair[0]), changed: []string{"nickname"}}}
		}},
		{"bulk update", func() error {
			return tx.Model(&account{}).Where("owner_id = ?", "7").Updates(map[string]any{"nickname": "bulk-value"}).Error
		}, false, func() []wantEvent {
			return []wantEvent{{name: "model.update", changed: []string{"nickname"}, rows: 3}}
		}},
		{"update matching no row", func() error {
			return tx.Model(&account{}).Where("owner_id = ?", "nobody").Update("nickname", "bulk-value").Error
		}, false, func() []wantEvent { return nil }},
		{"failed update", func() error {
			return tx.Model(&account{}).Where("no_such_column = ?", 1).Update("nickname", "bulk-value").Error
		}, true, func() []wantEvent { return nil }},
		{"failed create (duplicate key)", func() error {
			dup := account{ID: alice.ID, OwnerID: "7", Password: "hunter2-secret"}
			return tx.Create(&dup).Error
		}, true, func() []wantEvent { return nil }},
		{"create rolled back by its AfterCreate hook", func() error {
			return tx.Create(&account{OwnerID: "7", Nickname: "refused", Password: "hunter2-secret"}).Error
		}, true, func() []wantEvent { return nil }},
		{"update rolled back by its AfterUpdate hook", func() error {
			return tx.Model(&alice).Updates(map[string]any{"nickname": "refused"}).Error
		}, true, func() []wantEvent { return nil }},
		{"delete by model", func() error { return tx.Delete(&pair[1]).Error }, false,
			func() []wantEvent { return []wantEvent{{name: "model.delete", id: id(pair[1])}} }},
		{"delete by key", func() error { return tx.Delete(&account{}, pair[0].ID).Error }, false,
			func() []wantEvent { return []wantEvent{{name: "model.delete", id: id(pair[0])}} }},
		{"delete of a missing row", func() error { return tx.Delete(&account{}, 999999).Error }, false,
			func() []wantEvent { return nil }},
		{"bulk delete", func() error { return tx.Where("owner_id = ?", "7").Delete(&account{}).Error }, false,
			func() []wantEvent { return []wantEvent{{name: "model.delete", rows: 1}} }},
	}
	for _, tt := range tests {
		capture.Reset()
		before := plugin.Events()
		err := tt.run()
		if (err != nil) != tt.wantErr {
			t.Fatalf("%s: error %v, want error %v", tt.name, err, tt.wantErr)
		}
		want := tt.want()
		got := capture.Records()
		if len(got) != len(want) || plugin.Events()-before != uint64(len(want)) {
			t.Errorf("%s: %d events (%d counted), want %d", tt.name, len(got), plugin.Events()-before, len(want))
			continue
		}
		for i, w := range want {
			checkEvent(t, tt.name, &got[i], w)
		}
	}
}

func checkEvent(t *testing.T, name string, r *sdklog.Record, w wantEvent) {
	t.Helper()
	m := testsupport.AttrMap(r)
	if r.EventName() != w.name || m[string(semconv.AuditModelNameKey)].String() != "audit_accounts" {
		t.Errorf("%s: %s on %q, want %s on audit_accounts", name, r.EventName(), m[string(semconv.AuditModelNameKey)].String(), w.name)
	}
	if got := m[string(semconv.AuditModelIDKey)].String(); got != w.id {
		t.Errorf("%s: audit.model.id %q, want %q", name, got, w.id)
	}
	if got := m[string(semconv.AuditModelChangedFieldsKey)].AsStringSlice(); !slices.Equal(got, w.changed) {
		t.Errorf("%s: changed fields %q, want %q", name, got, w.changed)
	}
	bulk, rows := m[string(semconv.AuditModelBulkKey)], m[string(semconv.AuditModelRowsAffectedKey)]
	if w.id == "" {
		if !bulk.AsBool() || rows.AsInt64() != w.rows {
			t.Errorf("%s: bulk %v, rows %v, want bulk with %d rows", name, bulk.AsBool(), rows.AsInt64(), w.rows)
		}
	} else if bulk.Type() != attribute.EMPTY || rows.Type() != attribute.EMPTY {
		t.Errorf("%s: bulk attributes on an event about one record", name)
	}
	if got := m[string(semconv.UserIDKey)].String(); got != "7" {
		t.Errorf("%s: user.id %q, want the context's 7", name, got)
	}
	all := r.Body().String()
	for k, v := range m {
		all += " " + k + "=" + v.String()
	}
	for _, s := range secrets {
		if strings.Contains(all, s) {
			t.Errorf("%s: the record carries the value %q: %s", name, s, all)
		}
	}
}
