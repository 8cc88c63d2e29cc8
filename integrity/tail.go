package integrity

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"os"
)

// Tail is what a writer needs to continue the chain of an existing file.
type Tail struct {
	// Size is the file's size in bytes.
	Size int64
	// Lines is the number of complete lines (newlines) in the file.
	Lines uint64
	// HasLast says whether the file holds a complete line; Last* describe
	// the last one.
	HasLast bool
	// Chained says whether the last complete line has chain fields; Fields
	// are its fields then.
	Chained bool
	Fields  Fields
	// LastHash is the hash of the last complete line (newline included).
	LastHash Hash
	// LastBytes is its length without the newline.
	LastBytes int64
	// Torn is the number of bytes after the last newline: a line cut by a
	// crash. TornHash is the hash those bytes will have once a newline
	// ends them.
	Torn     int64
	TornHash Hash
}

// ReadTail reads what a writer needs from the end of the file at path
// (its last complete line, a torn line after it) and counts its lines. A
// missing file is the zero Tail. Memory use is constant; time is linear in
// the file's size (counting lines).
func ReadTail(path string) (Tail, error) {
	var t Tail
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return t, nil
	}
	if err != nil {
		return t, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return t, err
	}
	t.Size = info.Size()
	if t.Size == 0 {
		return t, nil
	}
	buf := make([]byte, 64<<10)
	for off := int64(0); off < t.Size; {
		n, err := f.ReadAt(buf[:min(int64(len(buf)), t.Size-off)], off)
		t.Lines += uint64(bytes.Count(buf[:n], []byte{'\n'}))
		off += int64(n)
		if err != nil && !errors.Is(err, io.EOF) {
			return t, err
		}
		if n == 0 {
			break
		}
	}
	lastNL, err := lastNewline(f, t.Size, buf)
	if err != nil {
		return t, err
	}
	if lastNL < t.Size-1 {
		t.Torn = t.Size - 1 - lastNL
		h := sha256.New()
		if _, err := io.Copy(h, io.NewSectionReader(f, lastNL+1, t.Torn)); err != nil {
			return t, err
		}
		h.Write([]byte{'\n'})
		h.Sum(t.TornHash[:0])
	}
	if lastNL < 0 {
		return t, nil
	}
	prevNL, err := lastNewline(f, lastNL, buf)
	if err != nil {
		return t, err
	}
	t.HasLast = true
	t.LastBytes = lastNL - prevNL - 1
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, prevNL+1, t.LastBytes+1)); err != nil {
		return t, err
	}
	h.Sum(t.LastHash[:0])
	from := max(prevNL+1, lastNL-int64(tailBytes))
	end := make([]byte, lastNL-from)
	if _, err := f.ReadAt(end, from); err != nil {
		return t, err
	}
	t.Fields, t.Chained = ParseFields(end)
	return t, nil
}

// lastNewline returns the offset of the last '\n' before offset end, or -1.
func lastNewline(f *os.File, end int64, buf []byte) (int64, error) {
	for end > 0 {
		from := max(0, end-int64(len(buf)))
		b := buf[:end-from]
		if _, err := f.ReadAt(b, from); err != nil {
			return 0, err
		}
		if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
			return from + int64(i), nil
		}
		end = from
	}
	return -1, nil
}
