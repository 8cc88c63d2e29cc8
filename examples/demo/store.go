package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"sync"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/instrumentation/gorm/auditgorm"
)

// account is a bank account: a row of the table "account". Its balance is
// the opening balance plus the transfers in and minus the transfers out,
// so a transfer is one insert.
type account struct {
	ID       int `gorm:"primaryKey;autoIncrement:false"`
	OwnerID  string
	Nickname string
	Email    string
	Opening  int64
}

// TableName is the model name of the account's events (audit.model.name).
func (account) TableName() string { return "account" }

// transfer is a row of the table "transfer".
type transfer struct {
	ID     int `gorm:"primaryKey"`
	FromID int
	ToID   int
	Amount int64
}

// TableName is the model name of the transfer's events.
func (transfer) TableName() string { return "transfer" }

// accountStore keeps the accounts and transfers in GORM on SQLite, with
// secaudit's GORM plugin registered: the model.update of PATCH
// /api/accounts/{id} and the model.create of POST /api/transfers are the
// plugin's, emitted with the request's context (user, trace, request id).
//
// The database is in memory (nothing on disk, nothing left after exit),
// kept alive by one connection the store holds. GORM's connection pool is
// opened when a request needs it and closed after a second without use:
// the demo's handler has no Close (its owner shuts down the pipeline), and
// an open pool would keep a goroutine running after the demo has stopped.
type accountStore struct {
	audit *secaudit.Auditor
	dsn   string      // a shared-cache in-memory database of this store's own
	keep  driver.Conn // holds the database while the store lives
	err   error       // opening the database failed: every call returns it

	mu   sync.Mutex
	db   *gorm.DB // the open pool with the plugin, or nil
	pool *sql.DB
	busy int // calls using db
	idle *time.Timer
}

// poolIdle is how long the pool stays open after its last use.
const poolIdle = time.Second

// newAccountStore creates the in-memory database with alice's account 1
// and bob's account 2 (created before the plugin is registered: no events
// at start).
func newAccountStore(a *secaudit.Auditor) *accountStore {
	var name [8]byte
	_, _ = rand.Read(name[:])
	s := &accountStore{audit: a, dsn: "file:secaudit-demo-" + hex.EncodeToString(name[:]) + "?mode=memory&cache=shared"}
	db, pool, err := s.open()
	if err == nil {
		s.keep, err = pool.Driver().Open(s.dsn)
	}
	if err == nil {
		err = db.AutoMigrate(&account{}, &transfer{})
	}
	if err == nil {
		err = db.Create([]account{
			{ID: 1, OwnerID: "1", Nickname: "alice-main", Email: "alice@example.test", Opening: 1000},
			{ID: 2, OwnerID: "2", Nickname: "bob-main", Email: "bob@example.test", Opening: 500},
		}).Error
	}
	if pool != nil {
		_ = pool.Close()
	}
	s.err = err
	return s
}

// open opens a pool on the store's database.
func (s *accountStore) open() (*gorm.DB, *sql.DB, error) {
	db, err := gorm.Open(sqlite.Open(s.dsn), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		return nil, nil, err
	}
	pool, err := db.DB()
	if err != nil {
		return nil, nil, err
	}
	// One connection: SQLite's shared cache locks tables between
	// connections, and requests are short.
	pool.SetMaxOpenConns(1)
	return db, pool, nil
}

// with runs fn with the audited database in ctx (db.WithContext(ctx)).
func (s *accountStore) with(ctx context.Context, fn func(db *gorm.DB) error) error {
	if s.err != nil {
		return s.err
	}
	db, err := s.acquire()
	if err != nil {
		return err
	}
	defer s.release()
	return fn(db.WithContext(ctx))
}

func (s *accountStore) acquire() (*gorm.DB, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		db, pool, err := s.open()
		if err == nil {
			// The one line an application needs: model events from
			// every create, update and delete.
			err = db.Use(auditgorm.New(s.audit))
		}
		if err != nil {
			if pool != nil {
				_ = pool.Close()
			}
			return nil, err
		}
		s.db, s.pool = db, pool
	}
	s.busy++
	return s.db, nil
}

func (s *accountStore) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.busy--
	if s.busy > 0 {
		return
	}
	if s.idle == nil {
		s.idle = time.AfterFunc(poolIdle, s.closeIdle)
	} else {
		s.idle.Reset(poolIdle)
	}
}

// closeIdle closes the pool unless it is in use again.
func (s *accountStore) closeIdle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.busy == 0 && s.pool != nil {
		_ = s.pool.Close()
		s.db, s.pool = nil, nil
	}
}

// errNoAccount: no account has that id.
var errNoAccount = errors.New("no such account")

// account returns the account id with its balance.
func (s *accountStore) account(ctx context.Context, id int) (acct account, balance int64, err error) {
	err = s.with(ctx, func(db *gorm.DB) error {
		if err := db.Take(&acct, id).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return errNoAccount
			}
			return err
		}
		var in, out int64
		if err := db.Model(&transfer{}).Where("to_id = ?", id).Select("COALESCE(SUM(amount), 0)").Scan(&in).Error; err != nil {
			return err
		}
		if err := db.Model(&transfer{}).Where("from_id = ?", id).Select("COALESCE(SUM(amount), 0)").Scan(&out).Error; err != nil {
			return err
		}
		balance = acct.Opening + in - out
		return nil
	})
	return acct, balance, err
}

// update sets the changed columns of account id; the plugin emits
// model.update with their names. No change, no statement, no event.
func (s *accountStore) update(ctx context.Context, id int, changes map[string]any) error {
	if len(changes) == 0 {
		return nil
	}
	return s.with(ctx, func(db *gorm.DB) error {
		return db.Model(&account{ID: id}).Updates(changes).Error
	})
}

// transfer records a transfer; the plugin emits model.create with its id.
func (s *accountStore) transfer(ctx context.Context, from, to int, amount int64) (id int, err error) {
	err = s.with(ctx, func(db *gorm.DB) error {
		t := transfer{FromID: from, ToID: to, Amount: amount}
		if err := db.Create(&t).Error; err != nil {
			return err
		}
		id = t.ID
		return nil
	})
	return id, err
}
