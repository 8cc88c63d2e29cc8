package main

import (
	"context"
	"log"

	"github.com/secaudit/secaudit"
	"github.com/secaudit/secaudit/setup"
)

func main() {
	ctx := context.Background()
	pipeline, err := setup.New(ctx, setup.WithServiceName("quickstart"))
	if err != nil {
		log.Fatal(err)
	}
	defer func() {
		if err := pipeline.Shutdown(ctx); err != nil {
			log.Print(err)
		}
	}()

	audit := pipeline.Auditor()
	audit.LoginSucceeded(ctx, secaudit.User{ID: "42", Name: "alice"})
}
