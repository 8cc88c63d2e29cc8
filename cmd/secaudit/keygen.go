package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/mod/sumdb/note"
)

func init() {
	register(command{
		name:    "keygen",
		summary: "write an Ed25519 key pair for signed JSONL checkpoints (FILE, FILE.pub)",
		run:     runKeygen,
	})
}

// runKeygen writes a private key (note format, mode 0600) to FILE and its
// verifier key to FILE.pub, refusing to overwrite either.
func runKeygen(_ context.Context, inv invocation) int {
	fl := flag.NewFlagSet("keygen", flag.ContinueOnError)
	fl.SetOutput(inv.stderr)
	name := fl.String("name", "secaudit", "the key's name, shown in each signature line")
	fl.Usage = func() {
		fmt.Fprintln(inv.stderr, "usage: secaudit keygen [-name NAME] FILE")
		fmt.Fprintln(inv.stderr, "Writes the private key to FILE (mode 0600: give it to SECAUDIT_JSONL_SIGNING_KEY)")
		fmt.Fprintln(inv.stderr, "and the public key to FILE.pub (for secaudit verify -pubkey). Never overwrites.")
		fl.PrintDefaults()
	}
	if err := fl.Parse(inv.args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fl.NArg() != 1 || fl.Arg(0) == "" {
		fl.Usage()
		return exitUsage
	}
	priv := fl.Arg(0)
	pub := priv + ".pub"
	skey, vkey, err := note.GenerateKey(rand.Reader, *name)
	if err != nil {
		fmt.Fprintf(inv.stderr, "secaudit keygen: -name %q: %v\n", *name, err)
		return exitUsage
	}
	for _, p := range []string{priv, pub} {
		if _, err := os.Lstat(p); err == nil || !errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(inv.stderr, "secaudit keygen: %s exists: not overwriting it\n", p)
			return exitFinding
		}
	}
	if err := writeNew(priv, skey+"\n", 0o600); err != nil {
		fmt.Fprintf(inv.stderr, "secaudit keygen: %v\n", err)
		return exitFinding
	}
	if err := writeNew(pub, vkey+"\n", 0o644); err != nil {
		_ = os.Remove(priv)
		fmt.Fprintf(inv.stderr, "secaudit keygen: %v\n", err)
		return exitFinding
	}
	fmt.Fprintf(inv.stdout, "private key: %s (keep it secret; SECAUDIT_JSONL_SIGNING_KEY=%s)\npublic key:  %s (secaudit verify -pubkey %s)\n", priv, priv, pub, pub)
	return exitOK
}

// writeNew creates path (failing if it exists) with data and mode perm.
func writeNew(path, data string, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if err := f.Chmod(perm); err != nil { // whatever the umask
		_ = f.Close()
		return err
	}
	if _, err := f.WriteString(data); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
