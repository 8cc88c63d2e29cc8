package auditgorm_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/glebarez/sqlite"
	"go.opentelemetry.io/otel/log/logtest"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/instrumentation/gorm/auditgorm"
)

type Account struct {
	ID       uint
	Nickname string
	Password string
}

// The plugin reports each change with the user of the request in the
// context and the names, never the values, of the changed columns.
func Example() {
	provider := logtest.NewRecorder() // an sdk/log LoggerProvider in production (setup.New)
	auditor, err := secaudit.New(secaudit.WithLoggerProvider(provider))
	if err != nil {
		panic(err)
	}
	dir, _ := os.MkdirTemp("", "auditgorm-example")
	defer os.RemoveAll(dir)
	db, err := gorm.Open(sqlite.Open(filepath.Join(dir, "app.db")), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		panic(err)
	}
	if sqlDB, err := db.DB(); err == nil {
		defer sqlDB.Close()
	}
	_ = db.AutoMigrate(&Account{})
	if err := db.Use(auditgorm.New(auditor)); err != nil {
		panic(err)
	}

	// In a handler: the audit middleware's request, with the user named.
	ctx := secaudit.ContextWithRequest(context.Background(), &secaudit.Request{})
	secaudit.SetUser(ctx, secaudit.User{ID: "7"})
	tx := db.WithContext(ctx)

	acct := Account{Nickname: "alice", Password: "wonderland"}
	tx.Create(&acct)
	tx.Model(&acct).Updates(map[string]any{"nickname": "alice-main", "password": "n3w-s3cret"})
	tx.Delete(&acct)

	for _, records := range provider.Result() {
		for _, r := range records {
			attrs := map[string]string{}
			for _, kv := range r.Attributes {
				attrs[string(kv.Key)] = kv.Value.String()
			}
			fmt.Println(r.EventName, attrs["audit.model.name"], attrs["audit.model.id"],
				attrs["audit.model.changed_fields"], "user", attrs["user.id"])
		}
	}
	// Output:
	// model.create accounts 1  user 7
	// model.update accounts 1 ["nickname","password"] user 7
	// model.delete accounts 1  user 7
}
