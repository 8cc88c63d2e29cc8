package main

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/internal/testsupport"
)

// TestAccountStoreEvents: the accounts' model events come from the GORM
// plugin, with the request's user: an update names the changed fields and
// never their values, a change to nothing emits nothing, a transfer is a
// model.create with its id, and balances follow the transfers.
func TestAccountStoreEvents(t *testing.T) {
	capture := &testsupport.Capture{}
	lp := testsupport.NewProvider(capture)
	defer lp.Shutdown(context.Background())
	a, err := secaudit.New(secaudit.WithLoggerProvider(lp), secaudit.WithoutEnv())
	if err != nil {
		t.Fatal(err)
	}
	s := newAccountStore(a)
	if s.err != nil {
		t.Fatal(s.err)
	}
	if n := capture.Len(); n != 0 {
		t.Fatalf("%d events from creating the store, want none", n)
	}
	req := &secaudit.Request{ID: "0123456789abcdef0123456789abcdef"}
	req.SetUser(secaudit.User{ID: "1"})
	ctx := secaudit.ContextWithRequest(context.Background(), req)

	if err := s.update(ctx, 1, map[string]any{"nickname": "nick-secret-value", "email": "mail-secret-value"}); err != nil {
		t.Fatal(err)
	}
	if err := s.update(ctx, 1, nil); err != nil { // nothing changed
		t.Fatal(err)
	}
	id, err := s.transfer(ctx, 1, 2, 5)
	if err != nil || id != 1 {
		t.Fatalf("transfer: id %d, %v", id, err)
	}
	acct, balance, err := s.account(ctx, 2)
	if err != nil || acct.OwnerID != "2" || balance != 505 {
		t.Fatalf("bob's account %+v, balance %d, %v; want 505", acct, balance, err)
	}
	if _, _, err := s.account(ctx, 3); err != errNoAccount {
		t.Fatalf("account 3: %v, want errNoAccount", err)
	}

	recs := capture.Records()
	if len(recs) != 2 {
		t.Fatalf("%d events, want model.update and model.create", len(recs))
	}
	up, cr := testsupport.AttrMap(&recs[0]), testsupport.AttrMap(&recs[1])
	if recs[0].EventName() != "model.update" || up["audit.model.name"].String() != "account" || up["audit.model.id"].String() != "1" ||
		!slices.Equal(up["audit.model.changed_fields"].AsStringSlice(), []string{"email", "nickname"}) || up["user.id"].String() != "1" {
		t.Errorf("update event %s %v", recs[0].EventName(), up)
	}
	if recs[1].EventName() != "model.create" || cr["audit.model.name"].String() != "transfer" || cr["audit.model.id"].String() != "1" ||
		cr["user.id"].String() != "1" {
		t.Errorf("create event %s %v", recs[1].EventName(), cr)
	}
	for k, v := range up {
		if strings.Contains(v.String(), "secret-value") {
			t.Errorf("model.update carries a value in %s", k)
		}
	}
}
