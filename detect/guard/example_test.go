package guard_test

import (
	"context"
	"fmt"
	"time"

	"github.com/secaudit/secaudit/detect/guard"
)

// The application asks the guard before it checks a password: a
// locked-out user and address pair is refused even with the right
// password (429 with Retry-After), other pairs are not.
func ExampleGuard_CheckLogin() {
	g, err := guard.New(guard.WithoutEnv(), guard.WithEnabled(true))
	if err != nil {
		panic(err)
	}
	// What detection's brute_force does through Responder, by hand here.
	_ = g.Block(context.Background(), guard.ScopeUserAddress,
		guard.Subject{Address: "203.0.113.7", User: "carol"}, 15*time.Minute, "five failed logins")

	for _, user := range []string{"carol", "alice"} {
		if d := g.CheckLogin(user, "203.0.113.7"); d.Blocked {
			fmt.Printf("%s: %d, Retry-After %d\n", user, guard.StatusTooManyRequests, d.RetryAfterSeconds())
			continue
		}
		fmt.Printf("%s: check the password\n", user)
	}
	// Output:
	// carol: 429, Retry-After 900
	// alice: check the password
}
