package main

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/detect/guard"
)

type user struct {
	id, name, password string
}

// app is the demo's bank: users and sessions in memory, accounts and
// transfers in GORM on SQLite (store.go), whose secaudit plugin reports
// their changes. Its handlers report the other security facts to the
// Auditor; the audit middleware around them reports every response.
type app struct {
	audit *secaudit.Auditor
	guard *guard.Guard // detection's response: lockouts (SECAUDIT_BLOCK)

	users map[string]user // by name

	mu       sync.Mutex
	sessions map[string]user // by session token

	accounts *accountStore
}

func newApp(a *secaudit.Auditor, g *guard.Guard) *app {
	return &app{
		audit: a,
		guard: g,
		users: map[string]user{
			"alice": {id: "1", name: "alice", password: "wonderland"},
			"bob":   {id: "2", name: "bob", password: "builder"},
		},
		sessions: map[string]user{},
		accounts: newAccountStore(a),
	}
}

func healthz(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") }

// authenticate resolves the session cookie and tells secaudit who the user
// is, so every event of the request carries user.id.
func (a *app) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, ok := a.sessionUser(r); ok {
			secaudit.SetUser(r.Context(), secaudit.User{ID: u.id, Name: u.name})
		}
		next.ServeHTTP(w, r)
	})
}

func (a *app) sessionUser(r *http.Request) (user, bool) {
	c, err := r.Cookie("session")
	if err != nil {
		return user{}, false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	u, ok := a.sessions[c.Value]
	return u, ok
}

func (a *app) login(w http.ResponseWriter, r *http.Request) {
	var creds struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&creds); err != nil {
		a.audit.LoginFailed(r.Context(), secaudit.User{}, "malformed_request")
		http.Error(w, "invalid credentials", http.StatusUnauthorized)
		return
	}
	// Ask the guard before the password: a locked-out username and address
	// (brute_force, with SECAUDIT_BLOCK=true) is refused even with the
	// right password; the audit middleware records the 429.
	var clientAddr string
	if req := secaudit.RequestFromContext(r.Context()); req != nil {
		clientAddr = req.ClientAddress
	}
	if d := a.guard.CheckLogin(creds.Username, clientAddr); d.Blocked {
		w.Header().Set("Retry-After", strconv.Itoa(d.RetryAfterSeconds()))
		http.Error(w, "too many failed logins, try again later", guard.StatusTooManyRequests)
		return
	}
	u, known := a.users[creds.Username]
	if !known || subtle.ConstantTimeCompare([]byte(u.password), []byte(creds.Password)) != 1 {
		reason := "unknown_user"
		claimed := secaudit.User{Name: creds.Username}
		if known {
			reason, claimed.ID = "bad_password", u.id
		}
		a.audit.LoginFailed(r.Context(), claimed, reason)
		http.Error(w, "invalid credentials", http.StatusUnauthorized)
		return
	}
	token := newToken()
	a.mu.Lock()
	a.sessions[token] = u
	a.mu.Unlock()
	a.audit.LoginSucceeded(r.Context(), secaudit.User{ID: u.id, Name: u.name})
	http.SetCookie(w, &http.Cookie{Name: "session", Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"user_id":"`+u.id+`"}`+"\n")
}

func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	var u secaudit.User
	if c, err := r.Cookie("session"); err == nil {
		a.mu.Lock()
		if s, ok := a.sessions[c.Value]; ok {
			u = secaudit.User{ID: s.id, Name: s.name}
			delete(a.sessions, c.Value)
		}
		a.mu.Unlock()
	}
	a.audit.Logout(r.Context(), u)
	http.SetCookie(w, &http.Cookie{Name: "session", Value: "", Path: "/", MaxAge: -1})
	w.WriteHeader(http.StatusNoContent)
}

// ownedAccount applies the access rules shared by GET and PATCH: 401 without
// a session, 404 for an unknown account, 403 for another user's.
func (a *app) ownedAccount(w http.ResponseWriter, r *http.Request) (acct account, balance int64, ok bool) {
	u, ok := a.sessionUser(r)
	if !ok {
		http.Error(w, "login required", http.StatusUnauthorized)
		return acct, 0, false
	}
	id, err := strconv.Atoi(r.PathValue("id"))
	if err == nil {
		acct, balance, err = a.accounts.account(r.Context(), id)
	}
	switch {
	case err == nil:
	case errors.Is(err, errNoAccount) || errors.Is(err, strconv.ErrSyntax) || errors.Is(err, strconv.ErrRange):
		http.Error(w, "no such account", http.StatusNotFound)
		return acct, 0, false
	default:
		http.Error(w, "internal error", http.StatusInternalServerError)
		return acct, 0, false
	}
	if acct.OwnerID != u.id {
		a.audit.AuthzDenied(r.Context(), secaudit.Model{Name: "account", ID: r.PathValue("id")}, "not_owner")
		http.Error(w, "forbidden", http.StatusForbidden)
		return acct, 0, false
	}
	return acct, balance, true
}

func (a *app) getAccount(w http.ResponseWriter, r *http.Request) {
	acct, balance, ok := a.ownedAccount(w, r)
	if !ok {
		return
	}
	a.audit.ModelAccessed(r.Context(), secaudit.Model{Name: "account", ID: strconv.Itoa(acct.ID)})
	writeJSON(w, http.StatusOK, map[string]any{"id": acct.ID, "nickname": acct.Nickname, "email": acct.Email, "balance": balance})
}

// patchAccount changes the nickname and email given; the GORM plugin
// emits model.update with the names of the fields that changed.
func (a *app) patchAccount(w http.ResponseWriter, r *http.Request) {
	acct, _, ok := a.ownedAccount(w, r)
	if !ok {
		return
	}
	var patch map[string]json.RawMessage
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&patch); err != nil {
		http.Error(w, "invalid JSON", http.StatusBadRequest)
		return
	}
	changes := map[string]any{}
	changed := []string{}
	for _, field := range []string{"nickname", "email"} {
		raw, present := patch[field]
		if !present {
			continue
		}
		var v string
		if json.Unmarshal(raw, &v) != nil {
			http.Error(w, field+" must be a string", http.StatusBadRequest)
			return
		}
		current := acct.Nickname
		if field == "email" {
			current = acct.Email
		}
		if current != v {
			changes[field] = v
			changed = append(changed, field)
		}
	}
	if err := a.accounts.update(r.Context(), acct.ID, changes); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": acct.ID, "changed": changed})
}

// createTransfer records a transfer; the GORM plugin emits model.create.
func (a *app) createTransfer(w http.ResponseWriter, r *http.Request) {
	u, ok := a.sessionUser(r)
	if !ok {
		http.Error(w, "login required", http.StatusUnauthorized)
		return
	}
	var t struct {
		From   int   `json:"from"`
		To     int   `json:"to"`
		Amount int64 `json:"amount"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&t); err != nil {
		http.Error(w, "invalid JSON", http.StatusBadRequest)
		return
	}
	from, _, errFrom := a.accounts.account(r.Context(), t.From)
	_, _, errTo := a.accounts.account(r.Context(), t.To)
	for _, err := range []error{errFrom, errTo} {
		if err != nil && !errors.Is(err, errNoAccount) {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
	}
	switch {
	case errFrom != nil || errTo != nil || t.Amount <= 0:
		http.Error(w, "invalid transfer", http.StatusBadRequest)
		return
	case from.OwnerID != u.id:
		a.audit.AuthzDenied(r.Context(), secaudit.Model{Name: "account", ID: strconv.Itoa(t.From)}, "not_owner")
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	id, err := a.accounts.transfer(r.Context(), t.From, t.To, t.Amount)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": strconv.Itoa(id)})
}

func slow(w http.ResponseWriter, r *http.Request) {
	ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
	ms = min(max(ms, 0), 10_000)
	select {
	case <-time.After(time.Duration(ms) * time.Millisecond):
	case <-r.Context().Done():
	}
	io.WriteString(w, "done\n")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
