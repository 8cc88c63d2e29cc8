package exporter

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.opentelemetry.io/otel"
	"golang.org/x/mod/sumdb/note"

	"github.com/secaudit/secaudit/integrity"
)

// link is a position in the chain: the last line's seq and hash.
type link struct {
	seq  uint64
	head integrity.Hash
}

// chain is the exporter's hash chain (WithChain) and checkpoint writer
// (WithSigningKey). Guarded by the exporter's mutex.
type chain struct {
	cur       link   // after the last line encoded
	written   link   // after the last line written
	fileLines uint64 // lines written to the current file
	now       func() time.Time

	signer   note.Signer // nil: no checkpoints
	sidecar  *os.File
	path     string // the JSONL file (checkpoints name its base)
	interval time.Duration
	lastCP   time.Time
	cpSeq    uint64 // seq of the last checkpoint written
	cpDone   bool   // a checkpoint was written
}

// appendLink rewrites the line just appended at buf[mark:] (ending with
// "}\n") to carry the chain fields, and advances cur.
func (c *chain) appendLink(buf []byte, mark int) []byte {
	buf = buf[:len(buf)-2]
	buf = integrity.AppendFields(buf, c.cur.seq+1, c.cur.head)
	buf = append(buf, "}\n"...)
	c.cur = link{seq: c.cur.seq + 1, head: integrity.HashLine(buf[mark:])}
	return buf
}

// restart reads the end of the file (or, when it is empty, of its first
// backup) and sets the chain to continue it. It returns the bytes to
// append first when the chain cannot continue: a newline ending a torn
// line, and a restart marker.
func (c *chain) restart(path string, backup string) ([]byte, error) {
	t, err := integrity.ReadTail(path)
	if err != nil {
		return nil, err
	}
	if t.Size == 0 && backup != "" {
		bt, err := integrity.ReadTail(backup)
		if err != nil {
			return nil, err
		}
		if bt.Chained && bt.Torn == 0 {
			c.cur = link{seq: bt.Fields.Seq, head: bt.LastHash}
		}
		c.written = c.cur
		return nil, nil
	}
	c.fileLines = t.Lines
	switch {
	case t.Size == 0:
		return nil, nil
	case t.Torn == 0 && t.Chained:
		c.cur = link{seq: t.Fields.Seq, head: t.LastHash}
		c.written = c.cur
		return nil, nil
	}
	var out []byte
	reason, n, prev := integrity.ReasonUnchainedTail, t.LastBytes, t.LastHash
	var seq uint64 = 1
	if t.Torn > 0 {
		out = append(out, '\n')
		reason, n, prev = integrity.ReasonTornTail, t.Torn, t.TornHash
		c.fileLines++
		if t.Chained {
			seq = t.Fields.Seq + 1
		}
	}
	otel.Handle(fmt.Errorf("exporter: JSONL: %s ends with %s line of %d bytes: the hash chain restarts with an audit.chain.restart line", path, map[bool]string{true: "a torn", false: "an unchained"}[t.Torn > 0], n))
	resume := integrity.Genesis
	if t.Torn > 0 && t.HasLast {
		resume = t.LastHash // the line before the torn one
	}
	out = integrity.AppendMarker(out, c.now().UnixNano(), reason, n, resume, seq, prev)
	c.cur = link{seq: seq, head: integrity.HashLine(out[len(out)-markerLen(out):])}
	return out, nil
}

// markerLen returns the length of the last line in b (newline included).
func markerLen(b []byte) int {
	for i := len(b) - 2; i >= 0; i-- {
		if b[i] == '\n' {
			return len(b) - i - 1
		}
	}
	return len(b)
}

// checkpoint appends a signed checkpoint of the written head to the
// sidecar, unless there is no signer, nothing written, or (for an
// interval checkpoint) nothing new.
func (c *chain) checkpoint(reason string) (wrote bool, err error) {
	if c.signer == nil || c.written.seq == 0 {
		return false, nil
	}
	now := c.now()
	if reason == integrity.CheckpointInterval && c.cpDone && c.cpSeq == c.written.seq {
		c.lastCP = now
		return false, nil
	}
	cp := integrity.Checkpoint{
		File:     filepath.Base(c.path),
		Lines:    c.fileLines,
		Seq:      c.written.seq,
		Head:     c.written.head,
		Reason:   reason,
		Time:     now,
		Interval: c.interval,
	}
	msg, err := cp.Sign(c.signer)
	if err == nil {
		_, err = c.sidecar.Write(msg)
	}
	if err != nil {
		return false, fmt.Errorf("exporter: JSONL: writing a checkpoint to %s: %w", c.sidecar.Name(), err)
	}
	c.lastCP, c.cpSeq, c.cpDone = now, c.written.seq, true
	return true, nil
}

// due reports whether an interval checkpoint is due.
func (c *chain) due() bool {
	return c.signer != nil && c.written.seq != c.cpSeq && c.now().Sub(c.lastCP) >= c.interval
}
