package integrity

import (
	"bufio"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// Problem is the first thing wrong with a file set: the file and line (from
// 1) where the chain or a checkpoint first fails, and what fails.
type Problem struct {
	File string
	Line uint64
	Msg  string
}

func (p *Problem) Error() string { return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg) }

// Options configure [Verify].
type Options struct {
	// Verifier checks the checkpoints' signatures (see [NewVerifier]).
	// Without one, checkpoints are still read and compared with the chain,
	// but anyone could have written them, and none is required.
	Verifier note.Verifier
	// Pruned accepts a set whose first line is not the chain's first: the
	// oldest files were deleted by rotation's retention.
	Pruned bool
}

// Result is what [Verify] found in an intact set.
type Result struct {
	Lines       uint64 // lines verified
	Files       int    // non-empty files
	Checkpoints int    // checkpoints matched
	Restarts    int    // restart markers (a torn or unchained line before each)
	Sidecar     string // the checkpoints file read, "" if none
	// Notes are facts worth a person's eye that are not problems: the
	// restarts, an unsigned check.
	Notes []string
}

// NewVerifier parses a verifier key in note's text format (what
// `secaudit keygen` writes to FILE.pub).
func NewVerifier(key string) (note.Verifier, error) { return note.NewVerifier(key) }

// rotated matches a rotated file's suffix (".1", ".2", …).
var rotated = regexp.MustCompile(`\.[0-9]+$`)

// SidecarFor returns the checkpoints file of a JSONL file or of one of its
// rotated files.
func SidecarFor(path string) string { return rotated.ReplaceAllString(path, "") + CheckpointSuffix }

// Verify checks a set of chained JSONL files (the current file and its
// rotated files, in any order: they are put in chain order) and the
// checkpoints file beside them (a path ending in [CheckpointSuffix] among
// paths is taken for it, not for a log). It returns a *Problem for the first thing
// wrong, or another error when a file cannot be read. Memory use does not
// grow with the files' size: lines are hashed as they stream past.
func Verify(paths []string, opts Options) (Result, error) {
	var res Result
	var files []setFile
	var logs []string
	for _, p := range paths {
		// A checkpoints file named beside the logs (audit.jsonl* names
		// it) is the sidecar, not a log.
		if strings.HasSuffix(p, CheckpointSuffix) {
			continue
		}
		logs = append(logs, p)
	}
	paths = logs
	for _, p := range paths {
		start, nonEmpty, err := firstSeq(p)
		if err != nil {
			return res, err
		}
		if nonEmpty {
			files = append(files, setFile{path: p, start: start})
		}
	}
	slices.SortStableFunc(files, func(a, b setFile) int {
		switch {
		case a.start < b.start:
			return -1
		case a.start > b.start:
			return 1
		}
		return 0
	})
	for i := 1; i < len(files); i++ {
		if files[i].start == files[i-1].start {
			return res, &Problem{File: files[i].path, Line: 1, Msg: fmt.Sprintf("starts at seq %d like %s: two copies of one file, or two chains", files[i].start, files[i-1].path)}
		}
	}
	res.Files = len(files)

	v := &verifier{opts: opts, expect: 1, prev: Genesis, res: &res}
	if len(paths) > 0 {
		if err := v.openSidecar(paths, files); err != nil {
			return res, err
		}
		if v.cpFile != nil {
			defer v.cpFile.Close()
		}
	}
	for i, f := range files {
		if err := v.file(f.path, i == 0); err != nil {
			return res, err
		}
	}
	if err := v.finish(); err != nil {
		return res, err
	}
	return res, nil
}

// firstSeq returns the seq of the first chained line of the file at path,
// minus the unchained lines before it (so a file that starts with a torn
// line sorts right), and whether the file has any byte.
func firstSeq(path string) (uint64, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false, err
	}
	defer f.Close()
	lr := newLineReader(f)
	var before uint64
	for {
		ln, err := lr.next()
		if errors.Is(err, io.EOF) {
			return 0, lr.n > 0 || before > 0, nil
		}
		if err != nil {
			return 0, false, err
		}
		if fl, ok := ParseFields(ln.tail); ok {
			return fl.Seq - min(fl.Seq, before), true, nil
		}
		before++
	}
}

// setFile is one file of the set.
type setFile struct {
	path  string
	start uint64 // the chain seq of its first line
}

type verifier struct {
	opts   Options
	res    *Result
	expect uint64 // the next line's seq
	prev   Hash   // the previous line's hash (Genesis before the first)
	// pending is a line without chain fields, allowed only just before a
	// restart marker.
	pending  *Problem
	resume   Hash // the hash of the line before the pending one
	lastFile string
	lastLine uint64 // the last line's number in lastFile
	lastSeq  uint64

	cpFile   *os.File
	cps      *checkpointReader
	cp       Checkpoint // the next checkpoint, when cpLine > 0
	cpLine   int
	cpDone   bool // the sidecar is exhausted (or absent)
	last     Checkpoint
	haveLast bool
}

// openSidecar opens the checkpoints file of the set: beside the newest
// file (the last in chain order), else beside any file given.
func (v *verifier) openSidecar(paths []string, files []setFile) error {
	var candidates []string
	if len(files) > 0 {
		candidates = append(candidates, SidecarFor(files[len(files)-1].path))
	}
	for _, p := range paths {
		candidates = append(candidates, SidecarFor(p))
	}
	for _, c := range candidates {
		f, err := os.Open(c)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		v.cpFile = f
		v.res.Sidecar = c
		v.cps = &checkpointReader{r: bufio.NewReaderSize(f, maxNoteBytes), name: c}
		if v.opts.Verifier != nil {
			v.cps.v = note.VerifierList(v.opts.Verifier)
		}
		return v.advance()
	}
	v.cpDone = true
	if v.opts.Verifier != nil {
		return &Problem{File: candidates[0], Line: 0, Msg: "no checkpoints file: a signed set has one beside the current file"}
	}
	v.res.Notes = append(v.res.Notes, "no checkpoints file: the chain alone was checked")
	return nil
}

// advance reads the next checkpoint, checking that the sidecar's
// checkpoints never go back.
func (v *verifier) advance() error {
	if v.cpLine > 0 {
		v.last, v.haveLast = v.cp, true
	}
	c, line, err := v.cps.next()
	if errors.Is(err, io.EOF) {
		v.cpDone, v.cpLine = true, 0
		return nil
	}
	if err != nil {
		return err
	}
	if v.haveLast && (c.Seq < v.last.Seq || c.Time.Before(v.last.Time)) {
		return &Problem{File: v.cps.name, Line: uint64(line), Msg: fmt.Sprintf("stale checkpoint: seq %d written at %d comes after one for seq %d written at %d (an old checkpoint replayed)", c.Seq, c.Time.UnixNano(), v.last.Seq, v.last.Time.UnixNano())}
	}
	v.cp, v.cpLine = c, line
	return nil
}

// file verifies the lines of one file.
func (v *verifier) file(path string, first bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	lr := newLineReader(f)
	for {
		ln, err := lr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if err := v.line(path, lr.n, ln, first && lr.n == 1); err != nil {
			return err
		}
	}
	return nil
}

// line checks one line: number n of path.
func (v *verifier) line(path string, n uint64, ln line, firstOfSet bool) error {
	where := func(msg string, args ...any) *Problem {
		return &Problem{File: path, Line: n, Msg: fmt.Sprintf(msg, args...)}
	}
	prevFile, prevLine := v.lastFile, v.lastLine
	v.lastFile, v.lastLine = path, n
	if !ln.complete {
		return where("torn line: the file ends without a newline (a write was cut; the writer has not restarted since)")
	}
	fl, ok := ParseFields(ln.tail)
	if !ok {
		if v.pending != nil {
			return v.pending
		}
		v.pending = where("line has no chain fields (%s and %s missing or altered)", "seq", "prev_hash")
		v.resume, v.prev = v.prev, ln.hash
		return nil
	}
	if v.pending != nil && !fl.Marker {
		return v.pending
	}
	if firstOfSet && v.opts.Pruned && v.pending == nil {
		v.expect, v.prev = fl.Seq, fl.Prev
		v.res.Notes = append(v.res.Notes, fmt.Sprintf("%s:1: the set starts at seq %d (older files pruned)", path, fl.Seq))
		// Checkpoints of the pruned files attest lines no longer here.
		for !v.cpDone && v.cp.Seq < fl.Seq {
			if err := v.advance(); err != nil {
				return err
			}
		}
	}
	switch {
	case fl.Seq != v.expect && n == 1 && prevFile != "" && prevFile != path:
		return where("seq %d, want %d after %s:%d: a rotated file between them is missing, or lines were cut", fl.Seq, v.expect, prevFile, prevLine)
	case fl.Seq != v.expect && firstOfSet:
		return where("the chain starts at seq %d, not 1: earlier files are missing (use -pruned if retention deleted them)", fl.Seq)
	case fl.Seq != v.expect:
		return where("seq %d, want %d: a line was deleted, inserted or moved here", fl.Seq, v.expect)
	case fl.Prev != v.prev && firstOfSet && fl.Prev != Genesis:
		return where("the chain's first line does not start from the genesis hash")
	case fl.Prev != v.prev && prevLine > 0 && prevFile == path:
		return &Problem{File: path, Line: prevLine, Msg: "line was changed: the next line's prev_hash does not match its hash"}
	case fl.Prev != v.prev && prevLine > 0:
		return where("prev_hash does not match the last line of %s:%d: that line was changed, or the files do not follow one another", prevFile, prevLine)
	}
	if fl.Marker {
		want := v.prev
		if v.pending != nil {
			want = v.resume
		}
		if fl.Resume != want {
			at := "the set's start"
			if v.pending != nil && v.pending.Line > 1 {
				at = fmt.Sprintf("%s:%d", v.pending.File, v.pending.Line-1)
			}
			return where("the restart marker's resume_hash does not match the line before the break (%s): that line was changed", at)
		}
		v.res.Restarts++
		what := "the chain restarted"
		if v.pending != nil {
			what = fmt.Sprintf("the chain restarted after %s:%d (torn or unchained line)", v.pending.File, v.pending.Line)
		}
		v.res.Notes = append(v.res.Notes, fmt.Sprintf("%s:%d: %s", path, n, what))
	}
	v.pending = nil
	v.expect, v.prev, v.lastSeq = fl.Seq+1, ln.hash, fl.Seq
	v.res.Lines++

	// Checkpoints for this seq.
	attested := false
	for !v.cpDone && v.cp.Seq <= fl.Seq {
		c := v.cp
		if c.Seq < fl.Seq {
			return &Problem{File: v.cps.name, Line: uint64(v.cpLine), Msg: fmt.Sprintf("checkpoint for seq %d, which is not in the set", c.Seq)}
		}
		if c.Head != ln.hash {
			since := "the start"
			if v.haveLast {
				since = fmt.Sprintf("seq %d", v.last.Seq)
			}
			return where("line differs from the signed checkpoint at %s:%d (seq %d): lines since %s were changed and the chain recomputed", v.cps.name, v.cpLine, c.Seq, since)
		}
		if c.Lines != n {
			return where("the checkpoint at %s:%d puts seq %d at line %d of its file: lines were moved between files", v.cps.name, v.cpLine, c.Seq, c.Lines)
		}
		if c.Reason == CheckpointRestart {
			attested = true
		}
		v.res.Checkpoints++
		if err := v.advance(); err != nil {
			return err
		}
	}
	if fl.Marker && v.opts.Verifier != nil && !attested {
		return where("restart marker without a signed restart checkpoint: forged")
	}
	if v.cpDone && v.haveLast && v.last.Interval > 0 && ln.time > v.last.Time.UnixNano()+2*int64(v.last.Interval) {
		// No checkpoint follows (the sidecar is read to its end), yet the
		// writer would have written one since.
		return where("written at %d, more than two checkpoint intervals after the last checkpoint (%s, seq %d, at %d): newer checkpoints were removed (stale checkpoint)", ln.time, v.cps.name, v.last.Seq, v.last.Time.UnixNano())
	}
	return nil
}

// finish checks what remains after the last line.
func (v *verifier) finish() error {
	if v.pending != nil {
		return v.pending
	}
	if !v.cpDone {
		return &Problem{File: v.lastFile, Line: v.lastLine + 1, Msg: fmt.Sprintf("the set ends at seq %d but the checkpoint at %s:%d attests seq %d: the tail was cut (or the newest file is missing)", v.lastSeq, v.cps.name, v.cpLine, v.cp.Seq)}
	}
	if v.opts.Verifier != nil && !v.haveLast && v.res.Lines > 0 {
		return &Problem{File: v.res.Sidecar, Line: 1, Msg: "no checkpoint in the checkpoints file"}
	}
	if v.opts.Verifier == nil && v.cps != nil {
		v.res.Notes = append(v.res.Notes, "checkpoint signatures not checked (no verifier key)")
	}
	return nil
}

// line is one line as the verifier keeps it: its hash, its last bytes, and
// its timestamp.
type line struct {
	hash     Hash
	tail     []byte // the last tailBytes bytes (without the newline)
	time     int64  // the "timestamp" member, 0 if not found
	complete bool   // ends with a newline
}

// lineReader reads lines of any length in constant memory.
type lineReader struct {
	r    *bufio.Reader
	h    hash.Hash
	tail []byte
	head []byte
	sum  []byte // the hash's buffer, reused
	n    uint64 // lines read
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 64<<10), h: sha256.New(), sum: make([]byte, 0, sha256.Size), tail: make([]byte, 0, 2*tailBytes), head: make([]byte, 0, 64)}
}

// next returns the next line; io.EOF after the last. The returned tail is
// valid until the next call.
func (lr *lineReader) next() (line, error) {
	lr.h.Reset()
	lr.tail, lr.head = lr.tail[:0], lr.head[:0]
	read := 0
	for {
		chunk, err := lr.r.ReadSlice('\n')
		if len(chunk) > 0 {
			read += len(chunk)
			lr.h.Write(chunk)
			if room := cap(lr.head) - len(lr.head); room > 0 {
				lr.head = append(lr.head, chunk[:min(room, len(chunk))]...)
			}
			if len(chunk) >= tailBytes {
				lr.tail = append(lr.tail[:0], chunk[len(chunk)-tailBytes:]...)
			} else {
				if len(lr.tail)+len(chunk) > cap(lr.tail) {
					keep := tailBytes - len(chunk)
					lr.tail = append(lr.tail[:0], lr.tail[len(lr.tail)-keep:]...)
				}
				lr.tail = append(lr.tail, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return line{}, err
		}
		if read == 0 {
			return line{}, io.EOF
		}
		lr.n++
		var ln line
		lr.sum = lr.h.Sum(lr.sum[:0])
		copy(ln.hash[:], lr.sum)
		ln.complete = err == nil
		ln.tail = lr.tail
		if ln.complete {
			ln.tail = ln.tail[:len(ln.tail)-1]
		}
		ln.time = leadingTimestamp(lr.head)
		return ln, nil
	}
}

// leadingTimestamp reads `{"timestamp":N` at the start of a line.
func leadingTimestamp(b []byte) int64 {
	const prefix = `{"timestamp":`
	if len(b) < len(prefix) || string(b[:len(prefix)]) != prefix {
		return 0
	}
	t, _ := parseDigits(b[len(prefix):])
	return int64(min(t, 1<<63-1))
}

// parseDigits parses the decimal digits at the start of b (at most 19,
// so that the value fits), without allocating.
func parseDigits(b []byte) (uint64, int) {
	var n uint64
	i := 0
	for ; i < len(b) && i < 19 && b[i] >= '0' && b[i] <= '9'; i++ {
		n = n*10 + uint64(b[i]-'0')
	}
	return n, i
}
