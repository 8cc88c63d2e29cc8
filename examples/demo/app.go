package main

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
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

type account struct {
	id       int
	ownerID  string
	nickname string
	email    string
	balance  int64
}

// app is the demo's in-memory bank. Its handlers report security facts to
// the Auditor; the audit middleware around them reports every response.
type app struct {
	audit *secaudit.Auditor
	guard *guard.Guard // detection's response: lockouts (SECAUDIT_BLOCK)

	users map[string]user // by name

	mu        sync.Mutex
	sessions  map[string]user // by session token
	accounts  map[int]*account
	transfers int
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
		accounts: map[int]*account{
			1: {id: 1, ownerID: "1", nickname: "alice-main", email: "alice@example.test", balance: 1000},
			2: {id: 2, ownerID: "2", nickname: "bob-main", email: "bob@example.test", balance: 500},
		},
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
func (a *app) ownedAccount(w http.ResponseWriter, r *http.Request) (*account, bool) {
	u, ok := a.sessionUser(r)
	if !ok {
		http.Error(w, "login required", http.StatusUnauthorized)
		return nil, false
	}
	id, err := strconv.Atoi(r.PathValue("id"))
	a.mu.Lock()
	acct := a.accounts[id]
	a.mu.Unlock()
	if err != nil || acct == nil {
		http.Error(w, "no such account", http.StatusNotFound)
		return nil, false
	}
	if acct.ownerID != u.id {
		a.audit.AuthzDenied(r.Context(), secaudit.Model{Name: "account", ID: r.PathValue("id")}, "not_owner")
		http.Error(w, "forbidden", http.StatusForbidden)
		return nil, false
	}
	return acct, true
}

func (a *app) getAccount(w http.ResponseWriter, r *http.Request) {
	acct, ok := a.ownedAccount(w, r)
	if !ok {
		return
	}
	a.audit.ModelAccessed(r.Context(), secaudit.Model{Name: "account", ID: strconv.Itoa(acct.id)})
	a.mu.Lock()
	body := map[string]any{"id": acct.id, "nickname": acct.nickname, "email": acct.email, "balance": acct.balance}
	a.mu.Unlock()
	writeJSON(w, http.StatusOK, body)
}

func (a *app) patchAccount(w http.ResponseWriter, r *http.Request) {
	acct, ok := a.ownedAccount(w, r)
	if !ok {
		return
	}
	var patch map[string]json.RawMessage
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&patch); err != nil {
		http.Error(w, "invalid JSON", http.StatusBadRequest)
		return
	}
	var changed []string
	a.mu.Lock()
	for _, field := range []string{"nickname", "email"} {
		raw, present := patch[field]
		if !present {
			continue
		}
		var v string
		if json.Unmarshal(raw, &v) != nil {
			a.mu.Unlock()
			http.Error(w, field+" must be a string", http.StatusBadRequest)
			return
		}
		dst := &acct.nickname
		if field == "email" {
			dst = &acct.email
		}
		if *dst != v {
			*dst = v
			changed = append(changed, field)
		}
	}
	a.mu.Unlock()
	a.audit.ModelUpdated(r.Context(), secaudit.Model{Name: "account", ID: strconv.Itoa(acct.id), ChangedFields: changed})
	writeJSON(w, http.StatusOK, map[string]any{"id": acct.id, "changed": changed})
}

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
	a.mu.Lock()
	from, to := a.accounts[t.From], a.accounts[t.To]
	switch {
	case from == nil || to == nil || t.Amount <= 0:
		a.mu.Unlock()
		http.Error(w, "invalid transfer", http.StatusBadRequest)
		return
	case from.ownerID != u.id:
		a.mu.Unlock()
		a.audit.AuthzDenied(r.Context(), secaudit.Model{Name: "account", ID: strconv.Itoa(t.From)}, "not_owner")
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	from.balance -= t.Amount
	to.balance += t.Amount
	a.transfers++
	id := strconv.Itoa(a.transfers)
	a.mu.Unlock()
	a.audit.ModelCreated(r.Context(), secaudit.Model{Name: "transfer", ID: id})
	writeJSON(w, http.StatusCreated, map[string]any{"id": id})
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
