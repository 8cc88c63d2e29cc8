package integrity

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// CheckpointHeader is the first line of a checkpoint's text.
const CheckpointHeader = "secaudit.jsonl.checkpoint/v1"

// CheckpointSuffix names the sidecar file beside a JSONL file: PATH +
// CheckpointSuffix holds the checkpoints of PATH and of its rotated files.
const CheckpointSuffix = ".checkpoints"

// Checkpoint reasons.
const (
	CheckpointInterval = "interval" // the interval elapsed
	CheckpointRotation = "rotation" // the file was full: the head is its last line
	CheckpointShutdown = "shutdown" // the exporter shut down
	CheckpointRestart  = "restart"  // the head is a restart marker
)

// Checkpoint attests the chain's head: the line numbered Seq, whose hash
// is Head, is line Lines of the file named File (its name when the
// checkpoint was written; rotation renames it).
//
// Its text, signed as a C2SP signed note (Ed25519), is
//
//	secaudit.jsonl.checkpoint/v1
//	file audit.jsonl
//	lines 120
//	seq 340
//	head 5f0c…(64 hex digits)
//	reason interval
//	time 1767225600000000000
//	interval 1m0s
type Checkpoint struct {
	File     string
	Lines    uint64
	Seq      uint64
	Head     Hash
	Reason   string
	Time     time.Time     // when it was written (Unix ns in the text)
	Interval time.Duration // the writer's checkpoint interval
}

// Text returns the checkpoint's note text (ending with a newline).
func (c Checkpoint) Text() string {
	return fmt.Sprintf("%s\nfile %s\nlines %d\nseq %d\nhead %s\nreason %s\ntime %d\ninterval %s\n",
		CheckpointHeader, c.File, c.Lines, c.Seq, c.Head, c.Reason, c.Time.UnixNano(), c.Interval)
}

// Sign returns the checkpoint as a signed note followed by a blank line,
// ready to be appended to the sidecar file.
func (c Checkpoint) Sign(s note.Signer) ([]byte, error) {
	msg, err := note.Sign(&note.Note{Text: c.Text()}, s)
	if err != nil {
		return nil, err
	}
	return append(msg, '\n'), nil
}

// parseCheckpoint parses a checkpoint's text.
func parseCheckpoint(text string) (Checkpoint, error) {
	var c Checkpoint
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) != 8 || lines[0] != CheckpointHeader {
		return c, errors.New("not a secaudit checkpoint")
	}
	field := func(i int, name string) (string, error) {
		v, ok := strings.CutPrefix(lines[i], name+" ")
		if !ok {
			return "", fmt.Errorf("line %d: want %q", i+1, name)
		}
		return v, nil
	}
	var err error
	var v string
	if c.File, err = field(1, "file"); err != nil {
		return c, err
	}
	if v, err = field(2, "lines"); err == nil {
		c.Lines, err = strconv.ParseUint(v, 10, 64)
	}
	if err != nil {
		return c, err
	}
	if v, err = field(3, "seq"); err == nil {
		c.Seq, err = strconv.ParseUint(v, 10, 64)
	}
	if err != nil {
		return c, err
	}
	if v, err = field(4, "head"); err != nil {
		return c, err
	}
	var ok bool
	if c.Head, ok = ParseHash(v); !ok {
		return c, errors.New("head: want 64 hex digits")
	}
	if c.Reason, err = field(5, "reason"); err != nil {
		return c, err
	}
	var ns int64
	if v, err = field(6, "time"); err == nil {
		ns, err = strconv.ParseInt(v, 10, 64)
	}
	if err != nil {
		return c, err
	}
	c.Time = time.Unix(0, ns)
	if v, err = field(7, "interval"); err == nil {
		c.Interval, err = time.ParseDuration(v)
	}
	return c, err
}

// maxNoteBytes bounds one signed note in a sidecar file.
const maxNoteBytes = 16 << 10

// checkpointReader reads the signed notes of a sidecar file one at a time.
type checkpointReader struct {
	r    *bufio.Reader
	name string
	line int // lines read
	v    note.Verifiers
}

// next returns the next checkpoint and the line its note starts at;
// io.EOF at the end. A note that does not verify (with a verifier) or
// parse is a *Problem.
func (cr *checkpointReader) next() (Checkpoint, int, error) {
	var msg []byte
	start := 0
	blank := 0 // blank lines seen in this note: 1 after the text
	for {
		line, err := cr.r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) || len(msg)+len(line) > maxNoteBytes {
			return Checkpoint{}, start, &Problem{File: cr.name, Line: uint64(cr.line + 1), Msg: "checkpoint note too long"}
		}
		if len(line) > 0 {
			cr.line++
			if len(line) == 1 && line[0] == '\n' {
				if len(msg) == 0 {
					continue // between notes
				}
				blank++
				if blank == 2 {
					break
				}
			} else if start == 0 {
				start = cr.line
			}
			msg = append(msg, line...)
		}
		if err == io.EOF {
			if len(msg) == 0 {
				return Checkpoint{}, 0, io.EOF
			}
			break
		}
		if err != nil {
			return Checkpoint{}, start, err
		}
	}
	var text string
	if cr.v != nil {
		n, err := note.Open(msg, cr.v)
		if err != nil {
			return Checkpoint{}, start, &Problem{File: cr.name, Line: uint64(start), Msg: "checkpoint signature does not verify (forged or altered checkpoint): " + err.Error()}
		}
		text = n.Text
	} else {
		i := bytes.Index(msg, []byte("\n\n"))
		if i < 0 {
			return Checkpoint{}, start, &Problem{File: cr.name, Line: uint64(start), Msg: "not a signed note"}
		}
		text = string(msg[:i+1])
	}
	c, err := parseCheckpoint(text)
	if err != nil {
		return Checkpoint{}, start, &Problem{File: cr.name, Line: uint64(start), Msg: "bad checkpoint: " + err.Error()}
	}
	return c, start, nil
}
